using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Device interrupts in a VM over two loopback nodes: the devices live on node 0, their targets anywhere.</summary>
public class DeviceInterruptAcrossNodesTests
{
    [Fact]
    public async Task An_msi_and_a_pv_ipi_reach_vcpus_on_the_other_node()
    {
        int[] placement = [0, 0, 1, 1];
        var transports = new NodeTransport[2];
        var engines = new Engine[2];
        for (int node = 1; node >= 0; node--)
        {
            transports[node] = new NodeTransport(new TransportOptions
            {
                NodeId = node,
                NodeOfVcpu = placement,
                Key = LoopbackCluster.Key,
                Peers = [node == 0 ? new PeerAddress(1, transports[1].LocalEndPoint) : new PeerAddress(0)],
            });
            engines[node] = new Engine(new EngineOptions
            {
                VcpuCount = placement.Length,
                Placement = new VcpuPlacement(placement, node),
                Forwarder = transports[node],
                DeviceSources = node == 0 ? 1 : 0,
            });
            transports[node].Start(new EngineSink(engines[node]));
            engines[node].Start();
        }

        try
        {
            // Device 0 on node 0: MSI vector 0x41 to APIC ID 3 (node 1). vCPU 0 on node 0: PV IPI 0xFD to IDs 1 and 2.
            engines[0].PostMsi(0, 0xFEE0_3000, 0x41);
            engines[0].PostPvIpi(0, 0b110, 0, 0, 0xFD);
            Assert.True(await LoopbackCluster.WaitUntilAsync(
                () => engines[1].HasPending(3) && engines[1].HasPending(2) && engines[0].HasPending(1), TimeSpan.FromSeconds(20)));

            Assert.True(engines[1].TakePending(3).IsPending(0x41));
            Assert.True(engines[1].TakePending(2).IsPending(0xFD));
            Assert.True(engines[0].TakePending(1).IsPending(0xFD));
            Assert.Equal(0, transports[1].FaultCount(LinkFault.RecordOutsidePlacement));
            engines[0].Stop();
            EngineCounters sender = engines[0].ReadCounters();
            Assert.True(sender.ConservationHolds, sender.ToString());
            Assert.Equal((1, 1, 2), (sender.MsisResolved, sender.PvIpisResolved, sender.Forwarded));
        }
        finally
        {
            foreach (var t in transports)
            {
                await t.DisposeAsync();
            }

            foreach (var e in engines)
            {
                e.Dispose();
            }
        }
    }
}
