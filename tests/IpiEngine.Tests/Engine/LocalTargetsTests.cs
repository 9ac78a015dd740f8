using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// <see cref="LocalTargets.Kernel"/>: the host's kernel already delivered local destinations at the ICR write, so the
/// engine counts them as served by the host, delivers none of them, and forwards only destinations on other nodes.
/// </summary>
public class LocalTargetsTests
{
    private const uint Fixed40 = 0x40 | (1u << 14);

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void Local_destinations_are_served_by_the_host_and_only_remote_ones_are_forwarded(ThreadingMode mode)
    {
        int[] nodeOf = [0, 0, 1, 1];
        var forwarder = new Recorder();
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical),
            Placement = new VcpuPlacement(nodeOf, 0),
            Forwarder = forwarder,
            LocalTargets = LocalTargets.Kernel,
            ThreadingMode = mode,
            DeliveryLogCapacity = 1000,
            PipelineRingSize = 1024,
        });
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, (1UL << 32) | Fixed40, 1, tag: 1);              // local: the host served it
        engine.Post(0, ApicRegister.X2Icr, (2UL << 32) | Fixed40, 2, tag: 2);              // remote: forwarded
        engine.Post(1, ApicRegister.X2Icr, Fixed40 | (2u << 18), 0, tag: 3);               // all including self: 2 local, 2 remote
        engine.Post(0, ApicRegister.X2Icr, Fixed40 | (3u << 18), 0, tag: 4);               // all excluding self: 1 local, 2 remote
        engine.Stop();

        EngineCounters c = engine.ReadCounters();
        Assert.True(c.ConservationHolds, c.ToString());
        Assert.Equal(1 + 1 + 4 + 3, c.DestinationsResolved);
        Assert.Equal(0, c.Delivered + c.Coalesced);
        Assert.Equal(0, c.Notifications);
        Assert.Equal(1 + 2 + 1, c.ServedByHost);   // tag 1: vCPU 1; tag 3: vCPUs 0, 1; tag 4: vCPU 1
        Assert.Equal(1 + 2 + 2, c.Forwarded);      // tag 2: vCPU 2; tag 3: vCPUs 2, 3; tag 4: vCPUs 2, 3
        Assert.Equal(c.Forwarded, forwarder.Seen.Count);
        Assert.All(forwarder.Seen, d => Assert.Equal(1, nodeOf[d.DestinationVcpu]));
        Assert.Equal([(2UL, 2u), (3UL, 2u), (3UL, 3u), (4UL, 2u), (4UL, 3u)], forwarder.Seen.Select(d => (d.Tag, d.DestinationVcpu)).Order());
        Assert.False(engine.HasPending(0) || engine.HasPending(1), "the engine delivered what the kernel had served");
        Assert.Empty(engine.DeliveryLog!.Entries.ToArray());
    }

    [Fact]
    public void Deliveries_from_other_nodes_are_still_delivered_by_the_engine()
    {
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(2, TopologyKind.X2ApicPhysical),
            Placement = new VcpuPlacement([0, 1], 0),
            Forwarder = new Recorder(),
            LocalTargets = LocalTargets.Kernel,
        });
        engine.DeliverRemote([new RemoteDelivery(7, 0, 1, 0, Fixed40, 0)]);

        Assert.Equal(1, engine.ReadCounters().RemoteDelivered);
        Assert.True(engine.TakePending(0).IsPending(0x40));
    }

    [Fact]
    public void An_undefined_local_targets_value_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 2, LocalTargets = (LocalTargets)7 }));
        Assert.Contains("LocalTargets", e.Message, StringComparison.Ordinal);
    }

    private sealed class Recorder : RemoteForwarder
    {
        public List<RemoteDelivery> Seen { get; } = [];

        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch)
        {
            lock (Seen)
            {
                Seen.AddRange(batch);
            }

            return 0; // took them all
        }
    }
}
