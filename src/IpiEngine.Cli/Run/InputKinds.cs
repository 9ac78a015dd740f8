using IpiEngine.Apic;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>One input kind's records in the window: posted by the threads, and what the engine made of them.</summary>
/// <param name="Posted">Records posted: firing writes (ICR, PV IPI), MSIs, or IOAPIC records (pin levels and EOIs).</param>
/// <param name="Resolved">Of them, resolved into an interrupt.</param>
/// <param name="Rejected">Of them, rejected (with a reason, counted in <c>rejectedByReason</c>).</param>
/// <param name="StateOnly">IOAPIC only: records that changed the IOAPIC's state and delivered nothing (a de-assertion, an EOI).</param>
internal sealed record InputKindCounts(long Posted, long Resolved, long Rejected, long StateOnly = 0)
{
    /// <summary>posted = resolved + rejected (+ state only).</summary>
    public bool Held => Posted == Resolved + Rejected + StateOnly;
}

/// <summary>
/// Conservation per input kind (JSON <c>inputs</c>) for a generated workload with device threads: ICR writes and
/// <c>KVM_HC_SEND_IPI</c> calls from the vCPUs, MSIs and IOAPIC pin records from the devices, and the vCPUs' EOIs of
/// level pins (IOAPIC records too).
/// </summary>
internal sealed record InputKinds(InputKindCounts Icr, InputKindCounts PvIpi, InputKindCounts Msi, InputKindCounts IoApic)
{
    /// <summary>Every kind balances.</summary>
    public bool Held => Icr.Held && PvIpi.Held && Msi.Held && IoApic.Held;

    /// <summary>Counts from the threads' own tallies and the engine's counters at the window's ends.</summary>
    public static InputKinds Of(WorkloadScript script, WorkloadDriver driver, in EngineCounters start, in EngineCounters end)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(driver);
        long vcpuIpis = 0, pvIpis = 0, eois = 0;
        for (var v = 0; v < script.Vcpus.Length; v++)
        {
            vcpuIpis += driver.PostedIpisOf(v);
            pvIpis += script.Vcpus[v].CountFiring(driver.PostedIpisOf(v), ApicRegister.PvSendIpi);
            eois += driver.LevelPins?.EoisOf(v) ?? 0;
        }

        long msis = 0, pinRecords = 0;
        foreach (var device in driver.Devices)
        {
            msis += device.Msis;
            pinRecords += device.PinRecords;
        }

        var msi = new InputKindCounts(msis, end.MsisResolved - start.MsisResolved, end.MsisRejected - start.MsisRejected);
        var pv = new InputKindCounts(pvIpis, end.PvIpisResolved - start.PvIpisResolved, end.PvIpisRejected - start.PvIpisRejected);
        var io = new InputKindCounts(pinRecords + eois, end.IoApicResolved - start.IoApicResolved, end.IoApicRejected - start.IoApicRejected,
            end.IoApicStateOnly - start.IoApicStateOnly);
        var icr = new InputKindCounts(vcpuIpis - pvIpis, end.IpisResolved - start.IpisResolved - msi.Resolved - pv.Resolved - io.Resolved,
            end.Rejected - start.Rejected - msi.Rejected - pv.Rejected - io.Rejected);
        return new InputKinds(icr, pv, msi, io);
    }

    /// <summary>
    /// The sequential replay of the device inputs: the bring-up (vCPU 0's IOAPIC programming included), then each device's
    /// first <c>Sent</c> interrupts of its looping script through one resolver, each level pin's EOI by its target vCPU
    /// before the pin's next assertion (where the handshake puts it). True when the engine's MSI and IOAPIC resolved and
    /// rejected counts equal the replay's (the order of different pins' records does not change them: each pin has its
    /// own vector and state).
    /// </summary>
    public static bool MatchesSequentialReplay(WorkloadScript script, WorkloadDriver driver, ApicTopology topology, InputKinds engine)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(driver);
        var devices = script.Devices ?? throw new ArgumentException("The script has no devices.", nameof(script));
        var resolver = new IcrResolver(topology, devices.DeviceCount);
        var destinations = new DestinationSet(script.Vcpus.Length);
        foreach (ref readonly var record in script.BringUp.AsSpan())
        {
            resolver.Process(record, destinations);
        }

        long msiResolved = 0, msiRejected = 0, ioResolved = 0, ioRejected = 0;
        var cycles = new long[Apic.IoApic.PinCount];
        void Count(in ExitRecord record)
        {
            var outcome = resolver.Process(record, destinations);
            var fired = outcome.Kind == ExitKind.Fired;
            var rejected = outcome.Kind == ExitKind.Rejected;
            if (outcome.Input == InterruptInput.Msi)
            {
                msiResolved += fired ? 1 : 0;
                msiRejected += rejected ? 1 : 0;
            }
            else if (outcome.Input == InterruptInput.IoApic)
            {
                ioResolved += fired ? 1 : 0;
                ioRejected += rejected ? 1 : 0;
            }
        }

        for (var d = 0; d < devices.DeviceCount; d++)
        {
            var events = devices.Scripts[d];
            var source = (ushort)(devices.VcpuCount + d);
            for (long i = 0; i < driver.Devices[d].Sent; i++)
            {
                var e = events[(int)(i % events.Length)];
                if (e.Kind == IpiKind.Msi)
                {
                    Count(new ExitRecord(source, ApicRegister.Msi, MsiMessage.RecordValue(e.Address, e.Data), (uint)(e.Address >> 32), e.Tag, 0));
                    continue;
                }

                if (devices.IsLevel(e.Pin) && cycles[e.Pin]++ > 0)
                {
                    Count(new ExitRecord((ushort)devices.LevelTarget[e.Pin], ApicRegister.Eoi, DeviceWorkload.VectorOf(e.Pin, level: true), 0, 0, 0));
                }

                Count(new ExitRecord(source, ApicRegister.IoApicPin, 1, (uint)e.Pin, e.Tag, 0));
                Count(new ExitRecord(source, ApicRegister.IoApicPin, 0, (uint)e.Pin, e.Tag, 0));
            }
        }

        return msiResolved == engine.Msi.Resolved && msiRejected == engine.Msi.Rejected
            && ioResolved == engine.IoApic.Resolved && ioRejected == engine.IoApic.Rejected;
    }
}
