using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// Where a link meets the node's sink (review of 2026-12-07, helper-47): a frame the sink could not apply is handed
/// again on the next connection, never applied twice, and a host callback that throws does not end a link.
/// </summary>
public class SinkFailureTests
{
    /// <summary>
    /// Reproduced: an engine whose fail-fast notifier failed applies and counts every remote delivery, then throws. The
    /// link read that as "not applied", closed, and was handed the same frame again on every reconnect (100 a second),
    /// applying it each time and never acknowledging it.
    /// </summary>
    [Fact]
    public async Task A_faulted_engine_applies_each_forwarded_record_once_and_acknowledges_it()
    {
        const int Records = 300;
        int[] placement = [0, 1];
        await using var nodes = new TwoEngineNodes(placement, (node, place, transport) => new EngineOptions
        {
            VcpuCount = placement.Length,
            Placement = place,
            Forwarder = transport,
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = node == 1 ? _ => throw new InvalidDataException("kick failed") : null,
        });
        var (transports, engines) = (nodes.Transports, nodes.Engines);
        for (int i = 0; i < Records; i++)
        {
            engines[0].Post(0, ApicRegister.X2Icr, (1UL << 32) | (uint)(0x20 + (i % 200)), 1, (ulong)i);
        }

        bool acknowledged = await LoopbackCluster.WaitUntilAsync(() => transports[0].Link(1).Counters.Acknowledged == Records, TimeSpan.FromSeconds(20));
        await Task.Delay(200, TestContext.Current.CancellationToken); // room for a wrong redelivery to show

        var link = transports[1].Link(0).Counters;
        var receiver = engines[1].ReadCounters();
        Assert.True(acknowledged, $"acknowledged {transports[0].Link(1).Counters.Acknowledged} of {Records}; receiver applied {link.Applied} over {link.Connections} connections");
        Assert.Equal(Records, link.Applied);
        Assert.Equal(1, link.Connections);
        Assert.Equal(Records, receiver.RemoteDelivered + receiver.RemoteCoalesced); // was a multiple: each reconnect applied the frame again
        Assert.IsType<EngineFaultedException>(Record.Exception(engines[1].Stop)); // the failure is the receiving host's to see
    }

    [Fact]
    public async Task A_sink_that_throws_gets_the_frame_again_after_a_backoff_and_applies_everything_once_in_order()
    {
        const int PerSource = 500;
        int[] placement = [0, 1, 0, 1];
        await using var cluster = LoopbackCluster.Start(placement);
        cluster.Sinks[1].ThrowNext = 3;
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, TimeSpan.FromSeconds(20)));

        Workload.Run(cluster.Nodes[0], placement, PerSource);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[1].Count == 2 * PerSource, TimeSpan.FromSeconds(30)),
            $"{cluster.Sinks[1].Count} of {2 * PerSource}: " + string.Join(" | ", cluster.Log));

        Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), placement, self: 1, PerSource);
        Assert.Equal(3, cluster.Nodes[1].FaultCount(LinkFault.SinkFailed)); // the receiving side: one close per refused frame
        Assert.Equal(3, cluster.Nodes[0].FaultCount(LinkFault.SinkFailed)); // the sender heard why (it used to read "connection lost")
        Assert.Equal(0, cluster.Nodes[0].FaultCount(LinkFault.ConnectionLost));
        Assert.Equal(4, cluster.Nodes[1].Link(0).Counters.Connections);
        Assert.Contains(cluster.Log, line => line.Contains("the sink could not apply records", StringComparison.Ordinal));
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07, helper-B): on the VM's IOAPIC node an injector that threw on the IPI after a
    /// peer's IOAPIC EOI made the link resend the whole frame, whose leading IPI was injected and EOI applied again.
    /// </summary>
    [Fact]
    public async Task An_injector_that_throws_part_way_through_a_frame_is_handed_only_the_rest_again()
    {
        var injector = new InjectorSinkTests.FailsOnceOn(0x42);
        RemoteDelivery[] frame =
        [
            new(1, 0, 0, 1, 0x0000_4041, 1),
            new(2, 0, 0, 1, RemoteDelivery.IoApicEoiFlag | 0x30, 1),
            new(3, 0, 0, 1, 0x0000_4042, 1),
        ];
        await using var pair = await IoApicPair.ForwardAsync(ioApic => new InjectorSink(injector, x2Apic: true, ioApic), frame);
        await Task.Delay(100, TestContext.Current.CancellationToken); // room for a wrong redelivery to show

        var link = pair.Receiver.Link(0).Counters;
        Assert.True(pair.Acknowledged, $"acknowledged {pair.Sender.Link(1).Counters.Acknowledged} of {frame.Length}; applied {link.Applied} over {link.Connections} connections");
        Assert.Equal([new IcrInjection(1, 0x4041, 1, 1), new IcrInjection(1, 0x4042, 1, 1)], injector.Seen); // the first was injected twice
        Assert.Equal(1, pair.Receiver.FaultCount(LinkFault.SinkFailed));
        Assert.Equal(frame.Length, link.Applied); // each record once: the resend started at the one not applied
        pair.IoApic.Stop();
        Assert.Equal(1, pair.IoApic.ReadCounters().Posted); // the EOI, once (was twice)
    }

    /// <summary>
    /// Review of 2026-12-07: an <see cref="InjectorSink"/> says how many of the records it was handed it applied, and the
    /// link took that count as the frame's. A host's sink that hands it a filtered copy (here: all but the IPIs it
    /// handles itself, after) made the link skip a record the host never handled. Now the count is believed only for
    /// the whole span the link handed over; else the throw counts as nothing applied (a resend may double, never lose).
    /// </summary>
    [Fact]
    public async Task A_host_sink_that_hands_an_injector_sink_part_of_a_frame_loses_nothing_when_it_fails()
    {
        var injector = new InjectorSinkTests.FailsOnceOn(0x42);
        HostHandlesVector? host = null;
        RemoteDelivery[] frame =
        [
            new(1, 0, 0, 1, 0x0000_4041, 1),
            new(2, 0, 0, 1, 0x0000_4050, 1), // the host's own
            new(3, 0, 0, 1, RemoteDelivery.IoApicEoiFlag | 0x30, 1),
            new(4, 0, 0, 1, 0x0000_4042, 1), // the injector fails on it once
        ];
        await using var pair = await IoApicPair.ForwardAsync(ioApic => host = new HostHandlesVector(0x50, new InjectorSink(injector, x2Apic: true, ioApic)), frame);

        Assert.True(pair.Acknowledged, $"acknowledged {pair.Sender.Link(1).Counters.Acknowledged} of {frame.Length}");
        Assert.Equal([2ul], host!.Handled); // was empty: the link resent from the third record, past the host's own
        Assert.Contains(injector.Seen, i => i.IcrLow == 0x4042);
        Assert.Equal(1, pair.Receiver.FaultCount(LinkFault.SinkFailed));
    }

    /// <summary>
    /// Node 1, the VM's IOAPIC node, with the sink <c>sinkOf</c> makes from its engine; node 0 forwards a frame to it,
    /// queued before the link is up, so that its first connection sends the records in one frame.
    /// </summary>
    private sealed class IoApicPair : IAsyncDisposable
    {
        private static readonly int[] Placement = [0, 1];

        private IoApicPair(NodeTransport receiver, Engine ioApic, NodeTransport sender)
        {
            Receiver = receiver;
            IoApic = ioApic;
            Sender = sender;
        }

        public NodeTransport Receiver { get; }

        public Engine IoApic { get; }

        public NodeTransport Sender { get; }

        /// <summary>Whether the sender saw every record of the frame acknowledged within 20 s.</summary>
        public bool Acknowledged { get; private set; }

        public static async Task<IoApicPair> ForwardAsync(Func<Engine, RemoteDeliverySink> sinkOf, RemoteDelivery[] frame)
        {
            var receiver = new NodeTransport(OptionsOf(1, Placement, new PeerAddress(0)));
            var ioApic = new Engine(new EngineOptions { VcpuCount = 2, Placement = new VcpuPlacement(Placement, 1), Forwarder = receiver, IoApicNode = 1 });
            ioApic.Start();
            receiver.Start(sinkOf(ioApic));
            var pair = new IoApicPair(receiver, ioApic, new NodeTransport(OptionsOf(0, Placement, new PeerAddress(1, receiver.LocalEndPoint))));
            Assert.Equal(0, pair.Sender.Forward(1, frame));
            pair.Sender.Start(new RecordingSink());
            pair.Acknowledged = await LoopbackCluster.WaitUntilAsync(() => pair.Sender.Link(1).Counters.Acknowledged == frame.Length, TimeSpan.FromSeconds(20));
            return pair;
        }

        public async ValueTask DisposeAsync()
        {
            await Sender.DisposeAsync();
            IoApic.Dispose();
            await Receiver.DisposeAsync();
        }
    }

    /// <summary>A host's sink: handles the IPIs of one vector itself, after handing everything else on (a filtered copy).</summary>
    private sealed class HostHandlesVector(uint vector, RemoteDeliverySink next) : RemoteDeliverySink
    {
        public List<ulong> Handled { get; } = [];

        public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        {
            RemoteDelivery[] all = deliveries.ToArray();
            next.Deliver(fromNode, all.Where(d => (d.IcrLow & 0xFF) != vector || (d.IcrLow & RemoteDelivery.IoApicEoiFlag) != 0).ToArray());
            Handled.AddRange(all.Where(d => (d.IcrLow & 0xFF) == vector && (d.IcrLow & RemoteDelivery.IoApicEoiFlag) == 0).Select(d => d.Tag));
        }
    }

    private static TransportOptions OptionsOf(int node, int[] placement, PeerAddress peer) => new()
    {
        NodeId = node,
        NodeOfVcpu = placement,
        Key = LoopbackCluster.Key,
        Peers = [peer],
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>
    /// Reproduced: the host's <see cref="TransportOptions.Log"/> throwing on "connected" left the link marked connected
    /// with no loops running, ended the dialer's redial loop, and made the transport's dispose throw.
    /// </summary>
    [Fact]
    public async Task A_log_callback_that_throws_loses_its_lines_not_the_link()
    {
        const int PerSource = 200;
        int[] placement = [0, 1];
        var cluster = LoopbackCluster.Start(placement, tune: o => o with { Log = _ => throw new IOException("the log's disk is full") });
        try
        {
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, TimeSpan.FromSeconds(20)));
            Workload.Run(cluster.Nodes[0], placement, PerSource);
            Workload.Run(cluster.Nodes[1], placement, PerSource);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[0].Count == PerSource && cluster.Sinks[1].Count == PerSource, TimeSpan.FromSeconds(20)),
                $"delivered {cluster.Sinks[0].Count} and {cluster.Sinks[1].Count} of {PerSource} each");
            Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), placement, self: 1, PerSource);
            Workload.AssertExactlyOnceInOrder(cluster.Sinks[0].Snapshot(), placement, self: 0, PerSource);
            Assert.True(cluster.Nodes[0].LogFailures > 0 && cluster.Nodes[1].LogFailures > 0);
        }
        finally
        {
            var disposed = Record.Exception(() => cluster.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
            Assert.Null(disposed);
        }
    }
}
