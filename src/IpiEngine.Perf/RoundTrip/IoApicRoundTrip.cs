using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Perf.RoundTrip;

/// <summary>
/// A level-triggered IOAPIC pin's round trip across two engines on one loopback link, in GiantVM's layout: node 0 owns
/// the IOAPIC and the device (<see cref="EngineOptions.IoApicNode"/> = 0), the pin's target vCPU lives on node 1.
/// One trip, driven by the calling thread playing the device and the target's handler: the device asserts the pin and
/// drops it again (the line pulses, as a device whose handler acked it), node 0 fires it and sets remote IRR, node 1
/// delivers it, the handler takes it and sends the EOI once node 0 shows the line low (so the EOI cannot find it high
/// and re-deliver), the EOI travels back to node 0, whose IOAPIC clears remote IRR: the trip ends when the caller sees
/// it clear. Used by <c>ipi perf ioapic-roundtrip</c> (p50/p99) and <c>IoApicRoundTripBenchmarks</c> (the mean).
/// </summary>
internal sealed class IoApicRoundTrip : IDisposable
{
    /// <summary>The level pin (entry: vector <see cref="Vector"/>, level, fixed, physical to APIC ID 1, unmasked).</summary>
    public const int Pin = 3;

    /// <summary>The pin's vector.</summary>
    public const byte Vector = 0x45;

    private const int Target = 1; // vCPU 1, on node 1
    private const uint PinBit = 1u << Pin;
    private readonly NodeTransport[] transports = new NodeTransport[2];
    private readonly Engine[] engines = new Engine[2];
    private readonly long patienceTicks;

    private IoApicRoundTrip(TimeSpan patience) => patienceTicks = (long)(patience.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The node that owns the IOAPIC (tests read its state).</summary>
    public Engine IoApicNode => engines[0];

    /// <summary>Round trips completed.</summary>
    public long Trips { get; private set; }

    /// <summary>
    /// Starts both nodes (2 vCPUs, vCPU v on node v, x2APIC physical), waits for the link and programs the pin from
    /// vCPU 0; each step of a trip may take up to <paramref name="patience"/> before <see cref="RunOnce"/> gives up.
    /// </summary>
    public static IoApicRoundTrip Start(TimeSpan patience)
    {
        var trip = new IoApicRoundTrip(patience);
        try
        {
            int[] placement = [0, 1];
            var key = new byte[32];
            for (var node = 1; node >= 0; node--)
            {
                trip.transports[node] = new NodeTransport(new TransportOptions
                {
                    NodeId = node,
                    NodeOfVcpu = placement,
                    Key = key,
                    Peers = [node == 0 ? new PeerAddress(1, trip.transports[1].LocalEndPoint) : new PeerAddress(0)],
                });
                trip.engines[node] = new Engine(new EngineOptions
                {
                    Topology = ApicTopology.Configure(placement.Length, TopologyKind.X2ApicPhysical),
                    Placement = new VcpuPlacement(placement, node),
                    Forwarder = trip.transports[node],
                    DeviceSources = node == 0 ? 1 : 0,
                    IoApicNode = 0,
                    Name = $"ioapic-trip-node{node}",
                });
                trip.transports[node].Start(new EngineSink(trip.engines[node]));
                trip.engines[node].Start();
            }

            var start = Stopwatch.GetTimestamp();
            trip.WaitFor(() => trip.transports[0].Link(1).IsConnected && trip.transports[1].Link(0).IsConnected, start, "the loopback link to connect");
            trip.engines[0].WriteIoApicEntry(0, Pin, Vector | (1ul << 15) | ((ulong)Target << 56));
            trip.WaitFor(() => trip.engines[0].ReadCounters().IoApicStateOnly == 1, Stopwatch.GetTimestamp(), "the entry write");
            return trip;
        }
        catch
        {
            trip.Dispose();
            throw;
        }
    }

    /// <summary>One round trip; returns its length in <see cref="Stopwatch"/> ticks. Throws <see cref="TimeoutException"/> when a step takes too long.</summary>
    public long RunOnce()
    {
        var start = Stopwatch.GetTimestamp();
        engines[0].SetIoApicPin(0, Pin, asserted: true);
        engines[0].SetIoApicPin(0, Pin, asserted: false);
        var spin = new SpinWait();
        while (true)
        {
            // HasPending also reports a bare notification (ON set after the previous take emptied PIR, as a posted-
            // interrupt notification can arrive after the vCPU synced); such a take is empty and the wait goes on.
            if (engines[1].HasPending(Target))
            {
                var taken = engines[1].TakePending(Target);
                if (taken.IsPending(Vector))
                {
                    if (taken.VectorCount != 1)
                    {
                        ThrowUnexpected(taken);
                    }

                    break;
                }

                if (taken.VectorCount != 0)
                {
                    ThrowUnexpected(taken);
                }
            }

            Patience(start, ref spin, "the delivery on node 1");
        }

        while ((engines[0].IoApic.ObservedLines & PinBit) != 0)
        {
            Patience(start, ref spin, "the de-assertion on node 0");
        }

        engines[1].PostEoi(Target, Vector);
        while ((engines[0].IoApic.ObservedRemoteIrr & PinBit) != 0)
        {
            Patience(start, ref spin, "the EOI back on node 0");
        }

        Trips++;
        return Stopwatch.GetTimestamp() - start;
    }

    /// <summary>
    /// Stops both engines and checks the counts: node 0 fired one assertion per trip and took each de-assertion and
    /// returned EOI as state only, node 1 forwarded one EOI per trip, nothing was rejected, and both engines conserve.
    /// </summary>
    public bool StopAndCheck()
    {
        engines[1].Stop();
        engines[0].Stop();
        EngineCounters ioApicNode = engines[0].ReadCounters(), other = engines[1].ReadCounters();
        return ioApicNode.ConservationHolds && other.ConservationHolds
            && ioApicNode.IoApicResolved == Trips && ioApicNode.IoApicStateOnly == 1 + (2 * Trips) && ioApicNode.Rejected == 0
            && other.IoApicResolved == Trips && other.Forwarded == Trips && other.Rejected == 0 && other.RemoteDelivered + other.RemoteCoalesced == Trips;
    }

    /// <summary>Stops the nodes, transports first (nothing reaches an engine after it is freed).</summary>
    public void Dispose()
    {
        foreach (var transport in transports)
        {
            transport?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (var engine in engines)
        {
            engine?.Dispose();
        }
    }

    private void WaitFor(Func<bool> condition, long start, string what)
    {
        var spin = new SpinWait();
        while (!condition())
        {
            Patience(start, ref spin, what);
        }
    }

    [DoesNotReturn]
    private static void ThrowUnexpected(PendingInterrupts taken)
        => throw new InvalidOperationException($"vCPU {Target} on node 1 took {taken.VectorCount} vector(s), not only vector 0x{Vector:x2}.");

    private void Patience(long start, ref SpinWait spin, string what)
    {
        if (Stopwatch.GetTimestamp() - start > patienceTicks)
        {
            throw new TimeoutException($"The IOAPIC round trip waited more than {patienceTicks / Stopwatch.Frequency} s for {what}.");
        }

        spin.SpinOnce(sleep1Threshold: -1); // spin and yield, never sleep a millisecond: that would be the figure
    }
}
