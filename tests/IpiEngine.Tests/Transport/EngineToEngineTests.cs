using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Two engines, each the forwarder of the other's transport: IPIs posted on one node land in the other's descriptors.</summary>
public class EngineToEngineTests
{
    [Fact]
    public async Task An_ipi_to_a_vcpu_on_the_other_node_is_resolved_forwarded_and_posted_there()
    {
        int[] placement = [0, 0, 1, 1];
        await using var nodes = new TwoEngineNodes(placement, (node, place, transport) => new EngineOptions
        {
            VcpuCount = placement.Length,
            Placement = place,
            Forwarder = transport,
        });
        var (transports, engines) = (nodes.Transports, nodes.Engines);
        // vCPU 0 (node 0) sends vector 0xFD to APIC ID 3 (vCPU 3, node 1); vCPU 2 (node 1) sends NMI to vCPU 1 (node 0).
        engines[0].Post(0, ApicRegister.X2Icr, (3UL << 32) | 0xFD, 3);
        engines[1].Post(2, ApicRegister.X2Icr, (1UL << 32) | (4 << 8), 1);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[1].HasPending(3) && engines[0].HasPending(1), TimeSpan.FromSeconds(20)));

        Assert.True(engines[1].TakePending(3).IsPending(0xFD));
        Assert.True(engines[0].TakePending(1).Nmi);
        Assert.False(engines[0].HasPending(0) || engines[1].HasPending(2)); // the senders got nothing
        var sender = engines[0].ReadCounters();
        Assert.True(sender.ConservationHolds);
        Assert.Equal(1, sender.Forwarded);
        Assert.Equal(1, engines[1].ReadCounters().RemoteDelivered);
    }
}
