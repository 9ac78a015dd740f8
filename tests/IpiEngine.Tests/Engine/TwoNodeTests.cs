using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Two "nodes" in one process: each engine owns half the vCPUs and forwards deliveries for the other half through an
/// in-process forwarder into the other engine's <see cref="Engine.DeliverRemote"/>. Every IPI reaches each destination once.
/// </summary>
public class TwoNodeTests
{
    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void Every_ipi_is_delivered_once_across_two_nodes(ThreadingMode mode)
    {
        int[] nodeOf = [0, 0, 1, 1];
        var toB = new LoopbackForwarder();
        var toA = new LoopbackForwarder();
        using var a = NewNode(0, nodeOf, toB, mode);
        using var b = NewNode(1, nodeOf, toA, mode);
        toB.Peer = b;
        toA.Peer = a;
        a.Start();
        b.Start();

        const int PerSource = 500;
        var threads = new Thread[4];
        for (int v = 0; v < 4; v++)
        {
            int source = v;
            Engine home = nodeOf[v] == 0 ? a : b;
            threads[v] = new Thread(() =>
            {
                for (int i = 0; i < PerSource; i++)
                {
                    ulong tag = (ulong)(source * PerSource + i);
                    uint low = (uint)(0x20 + (i % 100)) | (1u << 14);
                    if (i % 5 == 0)
                    {
                        home.Post(source, ApicRegister.X2Icr, low | (3u << 18), 0, tag); // all excluding self: crosses nodes
                    }
                    else
                    {
                        uint destination = (uint)((source + 1 + (i % 3)) % 4);
                        home.Post(source, ApicRegister.X2Icr, ((ulong)destination << 32) | low, destination, tag);
                    }
                }
            }) { IsBackground = true };
            threads[v].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)));
        }

        a.Stop(); // A's last forwarded batches reach B, which is still running
        b.Stop();
        a.Stop();

        var seen = new HashSet<(ulong, int)>();
        foreach (Engine node in new[] { a, b })
        {
            // Each source's IPIs reach each destination in the order posted (docs/wire-format.md: per-source order holds
            // across nodes): tags rise per (source, destination) in the log, which is delivery order on that node.
            var lastTag = new Dictionary<(int, int), ulong>();
            foreach (DeliveryLogEntry entry in node.DeliveryLog!.Entries)
            {
                var pair = (entry.SourceVcpu, entry.DestinationVcpu);
                Assert.True(!lastTag.TryGetValue(pair, out var last) || entry.Tag > last, $"tag {entry.Tag} from vCPU {entry.SourceVcpu} to vCPU {entry.DestinationVcpu} after tag {last}: reordered");
                lastTag[pair] = entry.Tag;
                Assert.True(seen.Add((entry.Tag, entry.DestinationVcpu)), $"tag {entry.Tag} to vCPU {entry.DestinationVcpu} twice");
                Assert.Equal(node == a ? 0 : 1, nodeOf[entry.DestinationVcpu]);
                Assert.Equal(nodeOf[entry.SourceVcpu] != nodeOf[entry.DestinationVcpu], entry.Remote);
            }
        }

        // The full (tag, destination) set the posts ask for: a lost delivery and a misrouted one cannot cancel out.
        var expected = new HashSet<(ulong, int)>();
        for (int source = 0; source < 4; source++)
        {
            for (int i = 0; i < PerSource; i++)
            {
                ulong tag = (ulong)(source * PerSource + i);
                foreach (int destination in i % 5 == 0 ? Enumerable.Range(0, 4).Where(d => d != source) : [(source + 1 + (i % 3)) % 4])
                {
                    expected.Add((tag, destination));
                }
            }
        }

        Assert.Empty(expected.Except(seen)); // none missing
        Assert.Empty(seen.Except(expected)); // none extra
        EngineCounters ca = a.ReadCounters();
        EngineCounters cb = b.ReadCounters();
        Assert.True(ca.ConservationHolds, ca.ToString());
        Assert.True(cb.ConservationHolds, cb.ToString());
        Assert.Equal(ca.Forwarded, cb.RemoteDelivered + cb.RemoteCoalesced);
        Assert.Equal(cb.Forwarded, ca.RemoteDelivered + ca.RemoteCoalesced);
        Assert.True(ca.Forwarded > 0 && cb.Forwarded > 0);
        Assert.Equal(0, ca.RemoteRejected + cb.RemoteRejected);
        Assert.InRange(toB.Batches, 1, ca.Forwarded); // one call per batch per node, not per IPI
        Assert.InRange(toA.Batches, 1, cb.Forwarded);
    }

    [Fact]
    public void Forwarded_deliveries_for_vcpus_that_are_not_local_are_rejected_and_counted()
    {
        using var b = NewNode(1, [0, 0, 1, 1], new LoopbackForwarder(), ThreadingMode.Fused);
        b.DeliverRemote(
        [
            new RemoteDelivery(1, 0, 0, 2, 0x4040, 2),   // local: delivered
            new RemoteDelivery(2, 0, 0, 0, 0x4040, 0),   // vCPU 0 lives on node 0
            new RemoteDelivery(3, 0, 0, 99, 0x4040, 99), // no such vCPU
            new RemoteDelivery(4, 0, 0, 3, 0x4340, 3),   // reserved delivery mode
            new RemoteDelivery(5, 0, 0, 2, 0x4040, 2),   // same vector again: coalesces
        ]);
        EngineCounters counters = b.ReadCounters();
        Assert.Equal(1, counters.RemoteDelivered);
        Assert.Equal(1, counters.RemoteCoalesced);
        Assert.Equal(3, counters.RemoteRejected);
        Assert.True(b.TakePending(2).IsPending(0x40));
        Assert.True(Assert.Single(b.DeliveryLog!.Entries.ToArray(), e => e.Tag == 1).Remote);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused, false)]
    [InlineData(ThreadingMode.PerStage, false)]
    [InlineData(ThreadingMode.Fused, true)]
    public void An_ipi_whose_icr_has_reserved_bits_set_crosses_nodes_as_an_ipi_not_as_an_ioapic_eoi(ThreadingMode mode, bool x2Apic)
    {
        int[] nodeOf = [0, 0, 1, 1];
        var toB = new LoopbackForwarder();
        var toA = new LoopbackForwarder();
        var kind = x2Apic ? TopologyKind.X2ApicPhysical : TopologyKind.XApicPhysical;
        using var a = NewNode(0, nodeOf, toB, mode, kind);
        using var b = NewNode(1, nodeOf, toA, mode, kind);
        toB.Peer = b;
        toA.Peer = a;
        a.Start();
        b.Start();

        // Bit 31 (reserved; the APIC ignores it) is how a forwarded delivery marks an IOAPIC EOI between nodes.
        const uint Low = 0x8000_40FDu;
        if (x2Apic)
        {
            a.Post(0, ApicRegister.X2Icr, (3UL << 32) | Low, 3, tag: 1);
        }
        else
        {
            a.Post(0, ApicRegister.IcrHigh, 3u << 24, 3, tag: 0);
            a.Post(0, ApicRegister.IcrLow, Low, 3, tag: 1);
        }

        a.Stop();
        b.Stop();

        if (x2Apic)
        {
            // An x2APIC WRMSR with a reserved bit faults: refused on node 0, and nothing reaches node 1, as an EOI or otherwise.
            Assert.Equal(1, a.ReadCounters().RejectedBy(RejectReason.ReservedBitsSet));
            Assert.Equal(0, a.ReadCounters().Forwarded);
            Assert.Equal(0, b.ReadCounters().RemoteDelivered + b.ReadCounters().RemoteRejected + b.ReadCounters().IoApicResolved);
            return;
        }

        Assert.True(b.TakePending(3).IsPending(0xFD), "the IPI did not arrive on node 1");
        Assert.Equal(1, b.ReadCounters().RemoteDelivered);
        Assert.Equal(1, a.ReadCounters().Forwarded);
    }

    private static Engine NewNode(int node, int[] nodeOf, RemoteForwarder forwarder, ThreadingMode mode, TopologyKind kind = TopologyKind.X2ApicPhysical)
        => new(new EngineOptions
        {
            Topology = ApicTopology.Configure(nodeOf.Length, kind),
            Placement = new VcpuPlacement(nodeOf, node),
            Forwarder = forwarder,
            ThreadingMode = mode,
            DeliveryLogCapacity = 10_000,
            RingCapacity = 64,
            PipelineRingSize = 1024,
            Name = $"node{node}",
        });

    /// <summary>Hands each batch straight to the peer engine.</summary>
    private sealed class LoopbackForwarder : RemoteForwarder
    {
        public Engine? Peer { get; set; }

        public int Batches { get; private set; }

        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch)
        {
            Batches++;
            Peer!.DeliverRemote(batch);
            return 0;
        }
    }
}
