using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Device interrupts in a VM over two loopback nodes: the devices live on node 0, their targets anywhere.</summary>
public class DeviceInterruptAcrossNodesTests
{
    /// <summary>vCPUs 0 and 1 on node 0, 2 and 3 on node 1; a device on node 0 (and on node 1 too when asked).</summary>
    private static TwoEngineNodes FourVcpusOnTwoNodes(bool devicesOnNode1, int ioApicNode)
    {
        int[] placement = [0, 0, 1, 1];
        return new TwoEngineNodes(placement, (node, place, transport) => new EngineOptions
        {
            VcpuCount = placement.Length,
            Placement = place,
            Forwarder = transport,
            DeviceSources = node == 0 || devicesOnNode1 ? 1 : 0,
            IoApicNode = ioApicNode,
        });
    }

    [Fact]
    public async Task An_msi_and_a_pv_ipi_reach_vcpus_on_the_other_node()
    {
        await using var nodes = FourVcpusOnTwoNodes(devicesOnNode1: false, ioApicNode: -1);
        var (transports, engines) = (nodes.Transports, nodes.Engines);

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

    /// <summary>
    /// GiantVM's layout: node 0 owns the IOAPIC and the device; pin 3 (level, vector 0x45) targets APIC ID 3 on node 1.
    /// Assert, deliver on node 1, EOI there, the EOI travels back to node 0, whose IOAPIC clears remote IRR and (the line
    /// still asserted) delivers again; after a de-assertion and another EOI, a new assertion is delivered at once.
    /// </summary>
    [Fact]
    public async Task A_level_pin_round_trip_sends_the_eoi_back_to_the_ioapic_node()
    {
        await using var nodes = FourVcpusOnTwoNodes(devicesOnNode1: false, ioApicNode: 0);
        var (transports, engines) = (nodes.Transports, nodes.Engines);

        TimeSpan patience = TimeSpan.FromSeconds(20);
        engines[0].WriteIoApicEntry(0, 3, 0x45 | (1ul << 15) | (3ul << 56));
        engines[0].SetIoApicPin(0, 3, asserted: true);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[1].HasPending(3), patience));
        Assert.True(engines[1].TakePending(3).IsPending(0x45));

        engines[0].SetIoApicPin(0, 3, asserted: true); // remote IRR still set: held on node 0
        engines[1].PostEoi(3, 0x45); // back to node 0: IRR cleared, the line is high: delivered again
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[1].HasPending(3), patience));
        Assert.True(engines[1].TakePending(3).IsPending(0x45));

        // The de-assertion (device ring) and the EOI (vCPU 3's ring on node 0) are on different rings: the EOI is sent
        // once node 0 has taken the de-assertion, else it could find the line still high and deliver again.
        engines[0].SetIoApicPin(0, 3, asserted: false);
        // State-only records on node 0 so far: the entry write, the held assertion, the de-assertion.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicStateOnly == 3, patience));
        engines[1].PostEoi(3, 0x45); // IRR cleared, the line is low: nothing
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicStateOnly == 4, patience));
        Assert.False(engines[1].HasPending(3));
        engines[0].SetIoApicPin(0, 3, asserted: true); // delivered at once: the EOI did clear remote IRR
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[1].HasPending(3), patience));

        engines[1].Stop();
        engines[0].Stop();
        EngineCounters ioApicNode = engines[0].ReadCounters(), other = engines[1].ReadCounters();
        Assert.True(ioApicNode.ConservationHolds, ioApicNode.ToString());
        Assert.True(other.ConservationHolds, other.ToString());
        // Node 0: the entry write, 4 pin changes and 2 EOIs from node 1 = 7 IOAPIC records: 3 delivered (2 assertions, the
        // first EOI), 4 state only (the entry write with the line low, the held assertion, the de-assertion, the second EOI).
        Assert.Equal((3L, 0L, 4L), (ioApicNode.IoApicResolved, ioApicNode.IoApicRejected, ioApicNode.IoApicStateOnly));
        Assert.Equal((2L, 2L), (other.IoApicResolved, other.Forwarded)); // node 1's two EOIs, forwarded
        Assert.Equal(0, ioApicNode.RemoteRejected);
    }

    /// <summary>
    /// A vCPU on node 1 (re)programs pin 3 (Linux rewrites an entry from the CPU that moves the interrupt): the write
    /// reaches node 0's IOAPIC, the VM's one, so the device's assertion there is delivered as programmed and a later mask
    /// from node 1 holds it. Each node used to keep its own table: node 0's pin stayed masked and the interrupt was lost.
    /// </summary>
    [Fact]
    public async Task An_entry_written_on_another_node_programs_the_vms_one_ioapic()
    {
        await using var nodes = FourVcpusOnTwoNodes(devicesOnNode1: true, ioApicNode: 0);
        var engines = nodes.Engines;
        TimeSpan patience = TimeSpan.FromSeconds(20);

        engines[1].WriteIoApicEntry(2, 3, 0x46 | (2ul << 56)); // edge, unmasked, to APIC ID 2 (node 1)
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicStateOnly == 1, patience)); // applied on node 0
        engines[0].SetIoApicPin(0, 3, asserted: true);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[1].HasPending(2), patience), "the pin programmed from node 1 did not fire");
        Assert.True(engines[1].TakePending(2).IsPending(0x46));

        engines[1].WriteIoApicEntry(2, 3, 0x46 | (1ul << 16) | (2ul << 56)); // masked, from node 1 again
        engines[0].SetIoApicPin(0, 3, asserted: false);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicStateOnly == 3, patience));
        engines[0].SetIoApicPin(0, 3, asserted: true); // refused: masked (MaskedPin), as node 1 asked
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicRejected == 1, patience));
        Assert.False(engines[1].HasPending(2));

        // Node 1's own IOAPIC is not the VM's: a device there cannot drive a pin.
        var refusal = Assert.Throws<InvalidOperationException>(() => engines[1].SetIoApicPin(0, 3, asserted: true));
        Assert.Contains("IOAPIC is on node 0", refusal.Message, StringComparison.Ordinal);

        engines[1].Stop();
        engines[0].Stop();
        EngineCounters ioApicNode = engines[0].ReadCounters(), other = engines[1].ReadCounters();
        Assert.True(ioApicNode.ConservationHolds, ioApicNode.ToString());
        Assert.True(other.ConservationHolds, other.ToString());
        Assert.Equal((2L, 2L), (other.IoApicResolved, other.Forwarded)); // node 1's two entry writes, forwarded
        Assert.Equal(0, ioApicNode.RemoteRejected);
    }

    [Fact]
    public void The_ioapics_eois_and_entry_writes_are_never_refused_under_the_fail_policy()
    {
        Assert.True(PeerLink.IsNeverDropped(RemoteDelivery.IoApicEoiFlag | 0x45)); // an EOI: a fixed vector's bits
        Assert.True(PeerLink.IsNeverDropped(RemoteDelivery.PackEntryWrite(3, 0x46 | (2ul << 56)).IcrLow));
        Assert.False(PeerLink.IsNeverDropped(0x4045)); // a fixed IPI may be refused
        Assert.True(PeerLink.IsNeverDropped(0x4400)); // NMI
    }
}
