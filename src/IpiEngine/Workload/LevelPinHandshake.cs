using IpiEngine.Apic;
using IpiEngine.Delivery;

namespace IpiEngine.Workload;

/// <summary>
/// How the generated workload's level-triggered IOAPIC pins go round, as a guest's handler and its device do, and so
/// that every assertion delivers exactly once whatever the threads' timing (the device's pin records and the vCPU's
/// EOI are on different rings, which the engine does not order against each other).
/// </summary>
/// <remarks>
/// Cycle k of level pin p (vector V, target vCPU T, both fixed by <see cref="DeviceWorkload"/>):
/// 1. The device thread counts the cycle (<c>cycle[p] = k</c>), then asserts the line (record A).
/// 2. The engine fires A (remote IRR clear: step 6 of cycle k-1 came first), sets remote IRR, delivers V to T.
/// 3. T's thread takes V and acks the device (<c>acked[p] = k</c>), as a handler reads the device's status.
/// 4. The device sees the ack and drops its line (record D), then notes it (<c>deasserted[p] = k</c>).
/// 5. T's thread, seeing <c>deasserted[p] = k</c> and the IOAPIC's observed line low, sends the EOI (record E), then
///    notes it (<c>eoied[p] = k</c>).
/// 6. The engine processes E: remote IRR clear; the line is low, so nothing is delivered again.
/// The device asserts the pin again only when <c>eoied[p] = k</c> and the observed remote IRR is clear.
/// Proof of exactness: the engine processes A before T can take V, so T's ack (3) follows A; the line T observes low in
/// (5) was high since A (T took V after A was processed) and only D lowers it, so E is processed after D and re-delivers
/// nothing; remote IRR, set in (2), is cleared only by E, so the device's check before cycle k+1 (which reads it after
/// <c>eoied[p] = k</c>, itself after (3)) passes only once E was processed, and the next A fires. V is used by no other
/// interrupt, so T takes V once per cycle: it never coalesces, and T's ack count equals the cycle. Each field has one
/// writer (the device thread: cycle, deasserted; T's thread: acked, eoied), written with release and read with acquire.
/// </remarks>
internal sealed class LevelPinHandshake
{
    private readonly Engine engine;
    private readonly DeviceWorkload devices;
    private readonly long[] cycle = new long[IoApic.PinCount];
    private readonly long[] acked = new long[IoApic.PinCount];
    private readonly long[] deasserted = new long[IoApic.PinCount];
    private readonly long[] eoied = new long[IoApic.PinCount];
    private readonly int[][] pinsOf; // per vCPU: the level pins it takes
    private readonly long[] eois; // per vCPU: EOIs posted (its thread only)
    private int devicesRunning;

    public LevelPinHandshake(Engine engine, DeviceWorkload devices)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(devices);
        this.engine = engine;
        this.devices = devices;
        devicesRunning = devices.DeviceCount;
        eois = new long[devices.VcpuCount];
        pinsOf = new int[devices.VcpuCount][];
        for (var v = 0; v < pinsOf.Length; v++)
        {
            pinsOf[v] = [.. Enumerable.Range(0, IoApic.PinCount).Where(p => devices.LevelTarget[p] == v)];
        }
    }

    /// <summary>Device threads that have not finished (acquire: a vCPU that reads 0 sees their last records posted).</summary>
    public int DevicesRunning => Volatile.Read(ref devicesRunning);

    /// <summary>EOIs vCPU <paramref name="vcpu"/> posted (read after its thread ended).</summary>
    public long EoisOf(int vcpu) => eois[vcpu];

    /// <summary>A device thread's last act (full fence).</summary>
    public void DeviceFinished() => Interlocked.Decrement(ref devicesRunning);

    /// <summary>Device side: whether level pin <paramref name="pin"/> may be asserted again (its last cycle's EOI processed).</summary>
    public bool Ready(int pin)
        => Volatile.Read(ref eoied[pin]) == cycle[pin] // acquire: pairs with the vCPU's release after posting E
            && (engine.IoApic.ObservedRemoteIrr & (1u << pin)) == 0;

    /// <summary>Device side, step 1: a new cycle begins (before the assertion is posted).</summary>
    public void Begin(int pin) => Volatile.Write(ref cycle[pin], cycle[pin] + 1); // release: T's ack compares against it

    /// <summary>Device side, step 4: whether the handler acked the pin's current cycle and the line is still up.</summary>
    public bool Acked(int pin)
        => Volatile.Read(ref acked[pin]) == cycle[pin] && deasserted[pin] != cycle[pin]; // acquire: pairs with Took's release

    /// <summary>Device side, step 4: the de-assertion of the current cycle is posted.</summary>
    public void Deasserted(int pin) => Volatile.Write(ref deasserted[pin], cycle[pin]); // release: after D is posted

    /// <summary>Device side: whether the line of <paramref name="pin"/> is up for a cycle not yet de-asserted.</summary>
    public bool Up(int pin) => deasserted[pin] != cycle[pin];

    /// <summary>vCPU side, step 3: what <paramref name="vcpu"/> took; a level vector among it acks its device.</summary>
    public void Took(int vcpu, in PendingInterrupts taken)
    {
        foreach (var pin in pinsOf[vcpu])
        {
            if (taken.IsPending(DeviceWorkload.VectorOf(pin, level: true)))
            {
                Volatile.Write(ref acked[pin], acked[pin] + 1); // release: the device reads it with acquire
            }
        }
    }

    /// <summary>vCPU side, step 5: sends the EOIs that are due (line down, as the IOAPIC has processed it).</summary>
    public void SendEois(int vcpu)
    {
        foreach (var pin in pinsOf[vcpu])
        {
            var k = acked[pin];
            if (k == eoied[pin] || Volatile.Read(ref deasserted[pin]) != k || (engine.IoApic.ObservedLines & (1u << pin)) != 0)
            {
                continue; // acquire on deasserted: pairs with the device's release after posting D
            }

            engine.PostEoi(vcpu, DeviceWorkload.VectorOf(pin, level: true));
            eois[vcpu]++;
            Volatile.Write(ref eoied[pin], k); // release: after E is posted (the device's Ready reads it)
        }
    }

    /// <summary>vCPU side: whether <paramref name="vcpu"/> still owes an EOI.</summary>
    public bool Owes(int vcpu)
    {
        foreach (var pin in pinsOf[vcpu])
        {
            if (acked[pin] != eoied[pin])
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the vCPU takes any level pin (else it needs no handshake).</summary>
    public bool Serves(int vcpu) => pinsOf[vcpu].Length > 0;

    /// <summary>The workload the handshake serves.</summary>
    public DeviceWorkload Devices => devices;
}
