namespace IpiEngine.Workload;

/// <summary>
/// One device thread of a generated workload: posts its script's interrupts in a loop on its own source ring (an MSI
/// as one record; an edge pin as a pulse, assert then de-assert; a level pin by the <see cref="LevelPinHandshake"/>),
/// keeping to the mix's device share of all the interrupts the engine has resolved so far, and ends at
/// <see cref="WorkloadPhase.Stopping"/> or after its share of a counted run.
/// </summary>
internal sealed class DeviceDriver
{
    private readonly Engine engine;
    private readonly DeviceEvent[] events;
    private readonly int device;
    private readonly WorkloadPhase phase;
    private readonly LevelPinHandshake pins;
    private readonly long share;
    private readonly long deviceWeight;
    private readonly long totalWeight;

    /// <param name="engine">The engine posted to (with this device among its <see cref="EngineOptions.DeviceSources"/>).</param>
    /// <param name="device">The device index.</param>
    /// <param name="phase">The controller's phase.</param>
    /// <param name="pins">The level pins' handshake.</param>
    /// <param name="share">Interrupts to post (long.MaxValue: until told to stop).</param>
    /// <param name="mix">The mix: device interrupt k of all devices waits until the engine resolved k x total / device weight.</param>
    public DeviceDriver(Engine engine, int device, WorkloadPhase phase, LevelPinHandshake pins, long share, WorkloadMix mix)
    {
        this.engine = engine;
        this.device = device;
        this.phase = phase;
        this.pins = pins;
        this.share = share;
        events = pins.Devices.Scripts[device];
        deviceWeight = mix.DeviceWeight;
        totalWeight = mix.TotalWeight;
    }

    /// <summary>Interrupts posted (read after the thread ends).</summary>
    public long Sent { get; private set; }

    /// <summary>MSIs posted (read after the thread ends).</summary>
    public long Msis { get; private set; }

    /// <summary>IOAPIC pin records posted, assertions and de-assertions (read after the thread ends).</summary>
    public long PinRecords { get; private set; }

    /// <summary>The thread body.</summary>
    public void Run()
    {
        long sent = 0, msis = 0, pinRecords = 0;
        var position = 0;
        var devices = pins.Devices.DeviceCount;
        if (phase.WaitWhileReady() == WorkloadPhase.Posting)
        {
            while (sent < share && phase.Current != WorkloadPhase.Stopping)
            {
                pinRecords += DropAckedLines();
                ref readonly var next = ref events[position];
                var level = next.Kind == IpiKind.IoApic && pins.Devices.IsLevel(next.Pin);
                if ((level && !pins.Ready(next.Pin)) || !WithinShare((sent * devices) + device))
                {
                    Thread.Yield();
                    continue;
                }

                if (next.Kind == IpiKind.Msi)
                {
                    engine.PostMsi(device, next.Address, next.Data, next.Tag);
                    msis++;
                }
                else if (level)
                {
                    pins.Begin(next.Pin);
                    engine.SetIoApicPin(device, next.Pin, asserted: true, next.Tag);
                    pinRecords++;
                }
                else
                {
                    engine.SetIoApicPin(device, next.Pin, asserted: true, next.Tag);
                    engine.SetIoApicPin(device, next.Pin, asserted: false, next.Tag);
                    pinRecords += 2;
                }

                sent++;
                position = position + 1 == events.Length ? 0 : position + 1;
            }

            // Leave no line up: each level pin asserted waits for its handler's ack, then drops.
            while (AnyLineUp() && phase.Current != WorkloadPhase.Stopping)
            {
                pinRecords += DropAckedLines();
                Thread.Yield();
            }
        }

        Sent = sent;
        Msis = msis;
        PinRecords = pinRecords;
        pins.DeviceFinished();
        phase.Finished(sent);
    }

    /// <summary>Whether device interrupt number <paramref name="index"/> (over all devices) is within the mix's share so far.</summary>
    private bool WithinShare(long index)
    {
        if (phase.Running <= pins.Devices.DeviceCount)
        {
            return true; // the vCPUs are done (a counted run's last part): nothing left to keep pace with
        }

        var counters = engine.ReadCounters();
        return index * totalWeight <= (counters.IpisResolved + counters.Rejected) * deviceWeight;
    }

    /// <summary>Step 4 of the handshake for this device's pins; returns the records posted.</summary>
    private int DropAckedLines()
    {
        var posted = 0;
        for (var pin = device; pin < Apic.IoApic.PinCount; pin += pins.Devices.DeviceCount)
        {
            if (pins.Devices.IsLevel(pin) && pins.Acked(pin))
            {
                engine.SetIoApicPin(device, pin, asserted: false);
                pins.Deasserted(pin);
                posted++;
            }
        }

        return posted;
    }

    private bool AnyLineUp()
    {
        for (var pin = device; pin < Apic.IoApic.PinCount; pin += pins.Devices.DeviceCount)
        {
            if (pins.Devices.IsLevel(pin) && pins.Up(pin))
            {
                return true;
            }
        }

        return false;
    }
}
