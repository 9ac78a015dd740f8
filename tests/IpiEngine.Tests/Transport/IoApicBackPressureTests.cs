using IpiEngine.Apic;
using IpiEngine.Delivery;
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

    /// <summary>
    /// Reproduced (helper s42-a), the cycle without sockets: the pipeline waits in a forward to node 1 (a full window),
    /// and node 1's link hands the sink more of vCPU 1's EOIs than its ring holds. The sink waited for the ring for good;
    /// now it applies what fits, says so, and the link's resend of the rest applies each record once.
    /// </summary>
    [Fact]
    public async Task The_sink_gives_up_on_a_full_ring_while_the_pipeline_waits_for_that_link_and_the_resend_applies_the_rest_once()
    {
        using var forwarder = new GatedForwarder(blockedNode: 1);
        using var engine = IoApicNodeEngine(forwarder, pinTarget: 1);
        var sink = new EngineSink(engine);
        RemoteDelivery[] frame = [PeerEoi(1), PeerEoi(2), new(3, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: 0x41, icrDestination: 0), PeerEoi(4), PeerEoi(5)];

        Exception? failure;
        try
        {
            var deliver = Task.Run(() => Record.Exception(() => sink.Deliver(1, frame)), TestContext.Current.CancellationToken);
            Assert.True(await Within(deliver, TimeSpan.FromSeconds(10)),
                "the sink waited for vCPU 1's ring while the pipeline, its consumer, waited for node 1's link");
            failure = await deliver;
        }
        finally
        {
            forwarder.Open(); // the peer acknowledges: the pipeline moves on
        }

        var partly = Assert.IsType<PartlyAppliedException>(failure);
        Assert.Equal((3, frame.Length), (partly.Applied, partly.Total)); // two EOIs (the ring's room) and the IPI
        Assert.Contains("is full", partly.Message, StringComparison.Ordinal);
        Assert.True(SpinWait.SpinUntil(() => !forwarder.Waiting, TimeSpan.FromSeconds(10)), "the opened forward never ended"); // as the resend comes on a new connection, after the ack
        sink.Deliver(1, frame.AsSpan(partly.Applied)); // the link's resend: the rest only
        engine.Stop();

        AssertEachOnce(engine, peerIoApicRecords: 4, remoteIpis: 1);
    }

    /// <summary>
    /// The sink gives up only when the pipeline may wait for its own link: a pipeline that waits for another node's link
    /// (whose receive loop reads that node's acknowledgements) is waited for, and nothing is handed again.
    /// </summary>
    [Fact]
    public async Task The_sink_waits_for_a_full_ring_while_the_pipeline_waits_for_another_link()
    {
        using var forwarder = new GatedForwarder(blockedNode: 2);
        using var engine = IoApicNodeEngine(forwarder, pinTarget: 2);
        var sink = new EngineSink(engine);
        RemoteDelivery[] frame = [PeerEoi(1), PeerEoi(2), PeerEoi(3), PeerEoi(4)];

        var deliver = Task.Run(() => sink.Deliver(1, frame), TestContext.Current.CancellationToken);
        try
        {
            Assert.False(await Within(deliver, TimeSpan.FromMilliseconds(300)), "the sink gave up although node 1's link was not waited for");
        }
        finally
        {
            forwarder.Open();
        }

        Assert.True(await Within(deliver, TimeSpan.FromSeconds(10)), "the sink did not finish once the pipeline moved on");
        await deliver; // no throw: nothing to hand again
        engine.Stop();
        AssertEachOnce(engine, peerIoApicRecords: 4, remoteIpis: 0);
    }

    /// <summary>
    /// Node 0 of three (vCPU n on node n), the VM's IOAPIC node, vCPU rings of two records; pin 3 (level, held
    /// asserted) targets vCPU <paramref name="pinTarget"/>, and its first firing is forwarded when this returns.
    /// </summary>
    private static Engine IoApicNodeEngine(GatedForwarder forwarder, int pinTarget)
    {
        var engine = new Engine(new EngineOptions
        {
            VcpuCount = 3,
            Placement = new VcpuPlacement([0, 1, 2], 0),
            Forwarder = forwarder,
            DeviceSources = 1,
            IoApicNode = 0,
            RingCapacity = 2,
            AssistIdlePipeline = false, // the pin's firing waits at the gate on the pipeline thread, never on this one
        });
        engine.Start();
        engine.WriteIoApicEntry(0, Pin, PinVector | (1ul << 15) | ((ulong)pinTarget << 56));
        engine.SetIoApicPin(0, Pin, asserted: true);
        Assert.True(SpinWait.SpinUntil(() => forwarder.Waiting, TimeSpan.FromSeconds(10)), "the pin's firing was not forwarded");
        return engine;
    }

    /// <summary>After the stop: the IOAPIC took its own two records and each of vCPU 1's once; the remote IPIs were applied once.</summary>
    private static void AssertEachOnce(Engine engine, int peerIoApicRecords, int remoteIpis)
    {
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(peerIoApicRecords, engine.RecordsTakenFrom(1));
        Assert.Equal(2 + peerIoApicRecords, counters.IoApicResolved + counters.IoApicRejected + counters.IoApicStateOnly);
        Assert.Equal(remoteIpis, counters.RemoteDelivered + counters.RemoteCoalesced);
        Assert.Equal(0, counters.RemoteRejected);
    }

    /// <summary>Whether <paramref name="task"/> ends within <paramref name="time"/>.</summary>
    private static async Task<bool> Within(Task task, TimeSpan time)
        => await Task.WhenAny(task, Task.Delay(time, TestContext.Current.CancellationToken)) == task;

    private static RemoteDelivery PeerEoi(ulong tag)
        => new(tag, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: RemoteDelivery.IoApicEoiFlag | PinVector, icrDestination: 0);

    /// <summary>Forwards to <c>blockedNode</c> wait at a gate until <see cref="Open"/>, and say so while they do (a link's full window).</summary>
    private sealed class GatedForwarder(int blockedNode) : RemoteForwarder, IDisposable
    {
        private readonly ManualResetEventSlim _gate = new();
        private volatile bool _waiting;

        public bool Waiting => _waiting;

        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch)
        {
            if (node == blockedNode && !_gate.IsSet)
            {
                _waiting = true;
                _gate.Wait(TimeSpan.FromSeconds(30)); // bounded: a test that fails still ends
                _waiting = false;
            }

            return 0;
        }

        internal override bool MayWaitForRoom(int node) => node == blockedNode && _waiting;

        public void Open() => _gate.Set();

        public void Dispose() => _gate.Dispose();
    }
}
