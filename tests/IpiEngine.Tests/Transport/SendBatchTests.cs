using IpiEngine.Cli.Nodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// A posting thread's send batch (<see cref="SendBatch"/>): what it forwards, and the acknowledgements of what its node
/// receives, wait for its flush, which sends them on the posting thread while the link's send loop stays parked;
/// nothing is lost or doubled, also when the link is cut, and nothing waits longer than the transport's tick.
/// Each batch lives on one thread, so every test body that holds one runs synchronously on a thread of its own.
/// </summary>
public class SendBatchTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly int[] TwoNodes = [0, 0, 1, 1];

    /// <summary>No heartbeat, silence check or tick within a test's few hundred milliseconds: only flushes send.</summary>
    private static TransportOptions Quiet(TransportOptions o) => o with { HeartbeatInterval = TimeSpan.FromSeconds(30), SilenceTimeout = TimeSpan.FromSeconds(60) };

    /// <summary>
    /// <see cref="NodeWorkload.Run"/>'s records, forwarded 16 at a time inside a batch that flushes every
    /// <paramref name="flushEvery"/> forwards; with <paramref name="pace"/> the thread sleeps a millisecond after each flush,
    /// as a paced poster does, so the send loops park between flushes and the flushes find them parked.
    /// </summary>
    private static void RunInBatch(NodeTransport transport, int[] nodeOfVcpu, int perSource, int flushEvery, bool pace = false)
    {
        using var batch = transport.BeginSendBatch();
        var local = NodeWorkload.VcpusOf(nodeOfVcpu, transport.NodeId);
        var buffer = new RemoteDelivery[16];
        int forwards = 0;
        foreach (var link in transport.Links)
        {
            var remote = NodeWorkload.VcpusOf(nodeOfVcpu, link.PeerNode);
            int filled = 0;
            for (int tag = 0; tag < perSource; tag++)
            {
                foreach (uint source in local)
                {
                    buffer[filled++] = NodeWorkload.Make(source, (ulong)tag, remote);
                    if (filled < buffer.Length)
                        continue;
                    Assert.Equal(0, transport.Forward(link.PeerNode, buffer));
                    filled = 0;
                    if (++forwards % flushEvery != 0)
                        continue;
                    batch.Flush();
                    if (pace)
                        Thread.Sleep(1);
                }
            }
            Assert.Equal(0, transport.Forward(link.PeerNode, buffer.AsSpan(0, filled)));
        }
    } // the close flushes the rest

    private static RemoteDelivery[] Records(int count, int[] nodeOfVcpu, int to)
    {
        var remote = NodeWorkload.VcpusOf(nodeOfVcpu, to);
        uint source = (uint)Array.FindIndex(nodeOfVcpu, n => n != to);
        return [.. Enumerable.Range(0, count).Select(tag => NodeWorkload.Make(source, (ulong)tag, remote))];
    }

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                return false;
            Thread.Sleep(2);
        }
        return true;
    }

    private static long FlushSends(NodeTransport transport) => transport.Links.Sum(l => l.Counters.FlushSends);

    [Fact]
    public async Task Records_forwarded_in_batches_arrive_exactly_once_in_order_sent_by_the_posting_threads()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));

        var senders = cluster.Nodes.Select(n => Task.Run(() => RunInBatch(n, TwoNodes, perSource: 20_000, flushEvery: 16, pace: true), TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(senders).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(await cluster.DrainAsync(Bound), "not every record was acknowledged: " + string.Join(" | ", cluster.Log));

        for (int node = 0; node < 2; node++)
        {
            Workload.AssertExactlyOnceInOrder(cluster.Sinks[node].Snapshot(), TwoNodes, node, 20_000);
            Assert.True(FlushSends(cluster.Nodes[node]) > 0, $"node {node}: no flush sent on its posting thread");
        }
    }

    [Fact]
    public async Task A_batch_holds_its_records_until_it_flushes_and_sends_them_on_the_flushing_thread()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: Quiet);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));

        await Task.Run(() =>
        {
            Thread.Sleep(50); // the send loops wrote their first acknowledgements and parked
            using var batch = cluster.Nodes[0].BeginSendBatch();
            cluster.Nodes[0].Forward(1, Records(10, TwoNodes, to: 1));
            Thread.Sleep(100);
            Assert.Equal(0, cluster.Sinks[1].Count); // held: no send loop was woken

            batch.Flush();
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == 10, Bound));
            Assert.Equal(1, FlushSends(cluster.Nodes[0])); // sent by this thread, the loop still parked
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task One_flush_sends_more_than_one_pipes_worth()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: Quiet);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));
        var records = Records(20_000, TwoNodes, to: 1); // about three times PeerLink.FlushThreshold in frames

        await Task.Run(() =>
        {
            Thread.Sleep(50);
            using var batch = cluster.Nodes[0].BeginSendBatch();
            Assert.Equal(0, cluster.Nodes[0].Forward(1, records));
            batch.Flush(); // the first pipe's worth on this thread, the rest by the woken loop (no tick for 15 s)
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == records.Length, TimeSpan.FromSeconds(5)),
                $"{cluster.Sinks[1].Count} of {records.Length} records arrived after one flush");
            Assert.Equal(1, FlushSends(cluster.Nodes[0]));
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Acknowledgements_wait_for_the_receiving_nodes_flush()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: Quiet);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));
        var link = cluster.Nodes[0].Links[0];

        await Task.Run(() =>
        {
            Thread.Sleep(50);
            using var batch = cluster.Nodes[1].BeginSendBatch(); // node 1 promises to flush
            cluster.Nodes[0].Forward(1, Records(10, TwoNodes, to: 1)); // node 0 holds no batch: sent at once
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == 10, Bound));
            Thread.Sleep(100);
            Assert.Equal(10, link.Counters.InFlight); // applied, not yet acknowledged

            batch.Flush();
            Assert.True(WaitUntil(() => link.Counters.InFlight == 0, Bound));
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Closing_a_batch_sends_what_it_held_and_acknowledges_and_later_forwards_go_at_once()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: Quiet);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));

        await Task.Run(() =>
        {
            Thread.Sleep(50);
            var batch = cluster.Nodes[1].BeginSendBatch();
            cluster.Nodes[1].Forward(0, Records(5, TwoNodes, to: 0)); // held
            cluster.Nodes[0].Forward(1, Records(7, TwoNodes, to: 1)); // applied on node 1, its acknowledgement held
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == 7, Bound));
            Thread.Sleep(50);
            Assert.Equal(0, cluster.Sinks[0].Count);

            batch.Dispose();
            batch.Dispose(); // a second close does nothing
            Assert.True(WaitUntil(() => cluster.Sinks[0].Count == 5, Bound));
            Assert.True(WaitUntil(() => cluster.Nodes[0].Links[0].Counters.InFlight == 0, Bound));

            cluster.Nodes[1].Forward(0, Records(3, TwoNodes, to: 0)); // no batch: the send loop is woken
            Assert.True(WaitUntil(() => cluster.Sinks[0].Count == 8, Bound));
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_batch_that_never_flushes_is_sent_at_the_transports_tick()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(200) }); // a tick every 100 ms
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));

        await Task.Run(() =>
        {
            using var batch = cluster.Nodes[0].BeginSendBatch();
            cluster.Nodes[0].Forward(1, Records(10, TwoNodes, to: 1));
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == 10, TimeSpan.FromSeconds(5)), "the tick did not send what the batch held");
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_second_batch_on_a_thread_and_a_close_from_another_thread_are_refused_in_one_sentence()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        default(SendBatch).Flush(); // a default batch holds nothing
        default(SendBatch).Dispose();

        // A thread of its own: a batch left open would stay with a pool thread (and refuse the next one opened there).
        SendBatch batch = default;
        Exception? failure = null;
        using var opened = new ManualResetEventSlim();
        using var tried = new ManualResetEventSlim();
        var opener = new Thread(() =>
        {
            try
            {
                batch = cluster.Nodes[0].BeginSendBatch();
                var same = Assert.Throws<InvalidOperationException>(() => cluster.Nodes[0].BeginSendBatch());
                Assert.Equal("a send batch of this transport is already open on this thread: dispose it first", same.Message);
                var other = Assert.Throws<InvalidOperationException>(() => cluster.Nodes[1].BeginSendBatch());
                Assert.Equal("a send batch of another transport is open on this thread: dispose it first (one batch per thread)", other.Message);
            }
            catch (Exception e)
            {
                failure = e;
            }
            opened.Set();
            tried.Wait(Bound);
            batch.Dispose(); // the opener closes it
            using var next = cluster.Nodes[1].BeginSendBatch(); // and may open another
        }) { IsBackground = true };
        opener.Start();
        Assert.True(opened.Wait(Bound, TestContext.Current.CancellationToken));
        Assert.Null(failure);

        var e = await Task.Run(() => Assert.Throws<InvalidOperationException>(() => batch.Dispose()), TestContext.Current.CancellationToken);
        Assert.Equal("a send batch is closed by the thread that opened it: its forwards are the ones it holds back", e.Message);
        tried.Set();
        Assert.True(opener.Join(Bound));
    }

    [Fact]
    public async Task A_paced_poster_behind_its_rate_still_flushes_every_step()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: Quiet); // no tick within the test: only flushes send
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));

        await Task.Run(() =>
        {
            using var clock = new PacingClock(rate: 1_000_000_000, stepMicroseconds: 200); // every IPI overdue: it never sleeps
            using var batch = cluster.Nodes[0].BeginSendBatch();
            var remote = NodeWorkload.VcpusOf(TwoNodes, 1);
            const int Posted = 20_000;
            for (long i = 0; i < Posted; i++)
            {
                cluster.Nodes[0].Forward(1, [NodeWorkload.Make(0, (ulong)i, remote)]);
                clock.WaitFor(i, batch); // all due within the first 200 µs: after them the thread never sleeps
            }

            Thread.Sleep(1); // a step begins ...
            clock.WaitFor(Posted, batch); // ... and the next post's wait, overdue, flushes what the steps before held
            Assert.True(WaitUntil(() => cluster.Sinks[1].Count == Posted, TimeSpan.FromSeconds(5)),
                $"{cluster.Sinks[1].Count} of {Posted} records arrived while the batch was open: a poster behind its rate did not flush ({cluster.Nodes[0].Links[0].Counters})");
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_batch_left_open_on_a_disposed_transport_does_not_hold_its_thread()
    {
        await using var first = LoopbackCluster.Start(TwoNodes);
        await using var second = LoopbackCluster.Start(TwoNodes);
        await Task.Run(() =>
        {
            _ = first.Nodes[0].BeginSendBatch(); // never closed (a host destroyed the node with it open)
            first.Nodes[0].DisposeAsync().AsTask().GetAwaiter().GetResult();
            using var next = second.Nodes[0].BeginSendBatch(); // refused with "another transport is open" before
            Assert.Throws<InvalidOperationException>(() => second.Nodes[0].BeginSendBatch()); // and it is open
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_copy_of_a_closed_batch_does_not_close_the_next_one()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        await Task.Run(() =>
        {
            var batch = cluster.Nodes[0].BeginSendBatch();
            var copy = batch;
            batch.Dispose();
            using var next = cluster.Nodes[0].BeginSendBatch();
            copy.Dispose(); // closed what `next` is before
            var e = Assert.Throws<InvalidOperationException>(() => cluster.Nodes[0].BeginSendBatch());
            Assert.Contains("already open", e.Message, StringComparison.Ordinal);
        }, TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_link_cut_while_batches_flush_loses_and_doubles_nothing(int seed)
    {
        FaultProxy? proxy = null;
        await using var cluster = LoopbackCluster.Start(TwoNodes, route: (_, target) =>
        {
            proxy = new FaultProxy(target, seed) { CutAfterBytes = (1, 200_000), CutBudget = 6, MaxPiece = 4096 };
            return proxy.EndPoint;
        });
        try
        {
            var senders = cluster.Nodes.Select(n => Task.Run(() => RunInBatch(n, TwoNodes, perSource: 30_000, flushEvery: 16, pace: true), TestContext.Current.CancellationToken)).ToArray();
            await Task.WhenAll(senders).WaitAsync(Bound, TestContext.Current.CancellationToken);
            Assert.True(await cluster.DrainAsync(Bound), "not every record was acknowledged: " + string.Join(" | ", cluster.Log.TakeLast(20)));
            for (int node = 0; node < 2; node++)
                Workload.AssertExactlyOnceInOrder(cluster.Sinks[node].Snapshot(), TwoNodes, node, 30_000);
            Assert.True(proxy!.Cuts > 0, "the proxy never cut the link, so the test proved nothing");
            Assert.True(cluster.Nodes.Sum(FlushSends) > 0, "no flush sent on a posting thread");
        }
        finally
        {
            await cluster.DisposeAsync();
            if (proxy is not null)
                await proxy.DisposeAsync();
        }
    }
}
