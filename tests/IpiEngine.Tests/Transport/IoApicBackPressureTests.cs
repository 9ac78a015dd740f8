using IpiEngine.Apic;
using IpiEngine.Transport;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// The VM's IOAPIC node under back-pressure both ways: a peer's vCPU floods it with IOAPIC EOIs and entry writes
/// (posted on that vCPU's ring there, from the link's receive thread) while it forwards to that peer through a full
/// window (whose room comes back only with the acknowledgements that same receive thread reads).
/// </summary>
public class IoApicBackPressureTests
{
    private const int Pin = 3;
    private const byte PinVector = 0x45;
    private const ulong LevelPinToVcpu1 = PinVector | (1ul << 15) | (1ul << 56); // level, unmasked, to APIC ID 1 (node 1)

    /// <summary>
    /// Reproduced (helper s42-a): the receive thread waited in <see cref="Engine.Post"/> for room in the peer vCPU's ring
    /// while the pipeline, the ring's consumer, waited for room in the window to that peer: neither ever moved. Now every
    /// EOI and entry write is applied once (none lost, none doubled) and every IPI is accounted for.
    /// </summary>
    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public async Task A_peer_flooding_the_ioapic_node_while_it_forwards_into_a_full_window_applies_every_eoi_once(ThreadingMode mode)
    {
        const int Eois = 6000, EntryWriteEvery = 8, Ipis = 6000;
        const int PeerRecords = Eois + Eois / EntryWriteEvery;
        int[] placement = [0, 1];
        await using var nodes = new TwoEngineNodes(placement, (node, place, transport) => new EngineOptions
        {
            VcpuCount = placement.Length,
            Placement = place,
            Forwarder = transport,
            ThreadingMode = mode,
            DeviceSources = node == 0 ? 1 : 0,
            IoApicNode = 0,
            RingCapacity = node == 0 ? 2 : 0, // node 1's vCPU's ring on node 0: full after two records
            PipelineRingSize = 512, // per-stage: the resolve stage waits for the deliver stage after 512 records
        }, tune: o => o with { WindowRecords = 64, ReconnectMaxDelay = TimeSpan.FromMilliseconds(20) });
        var (transports, engines) = (nodes.Transports, nodes.Engines);
        TimeSpan patience = TimeSpan.FromSeconds(30);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => transports[0].Link(1).IsConnected, patience));

        // Pin 3 on node 0: level, held asserted, to vCPU 1 on node 1: each EOI from vCPU 1 fires it again.
        engines[0].WriteIoApicEntry(0, Pin, LevelPinToVcpu1);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => engines[0].ReadCounters().IoApicStateOnly == 1, patience));
        engines[0].SetIoApicPin(0, Pin, asserted: true);

        Task peer = Task.Factory.StartNew(() =>
        {
            for (int i = 1; i <= Eois; i++)
            {
                engines[1].PostEoi(1, PinVector);
                if (i % EntryWriteEvery == 0)
                    engines[1].WriteIoApicEntry(1, Pin, LevelPinToVcpu1); // the same entry again: travels to node 0
            }
        }, TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Task ioApicNode = Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < Ipis; i++)
                engines[0].Post(0, ApicRegister.X2Icr, Unicast(1, 0x50), 1); // to vCPU 1, on node 1: forwarded
        }, TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        bool settled = await LoopbackCluster.WaitUntilAsync(
            () => peer.IsCompleted && ioApicNode.IsCompleted && engines[0].RecordsTakenFrom(1) == PeerRecords
                  && transports[0].Link(1).IsDrained && transports[1].Link(0).IsDrained
                  && engines[0].ReadCounters().InFlight == 0 && engines[1].ReadCounters().InFlight == 0,
            patience);
        var (toPeer, fromPeer) = (transports[0].Link(1).Counters, transports[1].Link(0).Counters);
        Assert.True(settled,
            $"stuck: node 0 took {engines[0].RecordsTakenFrom(1)} of {PeerRecords} peer records, its vCPU posted {engines[0].RecordsTakenFrom(0)} of {Ipis + 1}; "
            + $"node 0 -> 1 {toPeer.State}, forwarded {toPeer.Forwarded}, acknowledged {toPeer.Acknowledged}; node 1 -> 0 {fromPeer.State}, forwarded {fromPeer.Forwarded}, acknowledged {fromPeer.Acknowledged}");
        await peer;
        await ioApicNode;

        engines[1].Stop();
        engines[0].Stop();
        EngineCounters ioApic = engines[0].ReadCounters(), other = engines[1].ReadCounters();
        Assert.True(ioApic.ConservationHolds, ioApic.ToString());
        Assert.True(other.ConservationHolds, other.ToString());
        // Node 0's IOAPIC records: its own entry write and assertion, and every EOI and entry write of vCPU 1, each once.
        Assert.Equal(2 + PeerRecords, ioApic.IoApicResolved + ioApic.IoApicRejected + ioApic.IoApicStateOnly);
        Assert.Equal(2 + PeerRecords + Ipis, ioApic.Posted);
        Assert.Equal(0, ioApic.RemoteRejected);
        Assert.Equal(PeerRecords, other.Forwarded); // vCPU 1's IOAPIC records all left node 1 ...
        Assert.Equal(PeerRecords, transports[0].Link(1).Counters.Applied); // ... and were applied on node 0 once each
        // Node 0's forwards (the IPIs and the pin's firings) reached node 1, each once.
        Assert.Equal(ioApic.Forwarded, other.RemoteDelivered + other.RemoteCoalesced);
        Assert.Equal(ioApic.Forwarded, transports[1].Link(0).Counters.Applied);
    }
}
