using System.Net;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class FaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly int[] TwoNodes = [0, 0, 1, 1];

    private static async Task RunThroughProxyAsync(Action<FaultProxy> configure, int perSource, int seed)
    {
        FaultProxy? proxy = null;
        await using var cluster = LoopbackCluster.Start(TwoNodes, route: (_, target) =>
        {
            proxy = new FaultProxy(target, seed);
            configure(proxy);
            return proxy.EndPoint;
        });
        try
        {
            var senders = cluster.Nodes.Select(n => Task.Run(() => Workload.Run(n, TwoNodes, perSource, batch: 16), TestContext.Current.CancellationToken)).ToArray();
            await Task.WhenAll(senders).WaitAsync(Bound, TestContext.Current.CancellationToken);
            Assert.True(await cluster.DrainAsync(Bound), "not every record was acknowledged: " + string.Join(" | ", cluster.Log.TakeLast(20)));
            for (int node = 0; node < 2; node++)
                Workload.AssertExactlyOnceInOrder(cluster.Sinks[node].Snapshot(), TwoNodes, node, perSource);
        }
        finally
        {
            await cluster.DisposeAsync();
            if (proxy is not null)
                await proxy.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_link_cut_at_random_points_reconnects_and_loses_and_doubles_nothing(int seed)
    {
        FaultProxy? seen = null;
        await RunThroughProxyAsync(p =>
        {
            seen = p;
            p.CutAfterBytes = (1, 200_000);
            p.CutBudget = 8;
            p.MaxPiece = 4096;
        }, perSource: 30_000, seed);
        Assert.True(seen!.Cuts > 0, "the proxy never cut the link, so the test proved nothing");
        Assert.True(seen.Connections > 1);
    }

    [Fact]
    public async Task Writes_split_into_one_byte_pieces_are_reassembled()
        => await RunThroughProxyAsync(p => p.MaxPiece = 1, perSource: 300, seed: 4);

    [Fact]
    public async Task Delayed_and_cut_pieces_still_arrive_exactly_once()
    {
        FaultProxy? seen = null;
        await RunThroughProxyAsync(p =>
        {
            seen = p;
            p.Delay = TimeSpan.FromMilliseconds(1);
            p.MaxPiece = 512;
            p.CutAfterBytes = (100, 20_000);
            p.CutBudget = 4;
        }, perSource: 1_000, seed: 5);
        Assert.True(seen!.Cuts > 0, "the proxy never cut the link, so the test proved nothing");
    }

    [Fact]
    public async Task A_restarted_node_is_resumed_by_its_peer_and_gets_what_was_not_acknowledged()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound));
        var first = cluster.Nodes[0];
        // Node 1 stops; node 0 keeps forwarding into its window while node 1 is away.
        await cluster.Nodes[1].DisposeAsync();
        var sender = Task.Run(() => Workload.Run(first, TwoNodes, perSource: 5_000), TestContext.Current.CancellationToken);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        cluster.StartNode(1);
        await sender.WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(await first.DrainAsync(Bound), string.Join(" | ", cluster.Log.TakeLast(20)));
        Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), TwoNodes, self: 1, perSource: 5_000);
        Assert.True(first.Link(1).Counters.Connections >= 2);
    }
}
