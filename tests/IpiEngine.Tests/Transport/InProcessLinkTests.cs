using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class InProcessLinkTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(new[] { 0, 0, 1, 1 }, 20_000)]
    [InlineData(new[] { 0, 1, 2, 0, 1, 2 }, 10_000)]
    public async Task Every_record_reaches_the_right_node_and_vcpu_once_in_source_order(int[] nodeOfVcpu, int perSource)
    {
        await using var cluster = LoopbackCluster.Start(nodeOfVcpu);
        var senders = cluster.Nodes.Select(n => Task.Run(() => Workload.Run(n, nodeOfVcpu, perSource), TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(senders).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(await cluster.DrainAsync(Bound), "not every record was acknowledged: " + string.Join(" | ", cluster.Log));

        for (int node = 0; node < cluster.Nodes.Length; node++)
        {
            Workload.AssertExactlyOnceInOrder(cluster.Sinks[node].Snapshot(), nodeOfVcpu, node, perSource);
            foreach (var link in cluster.Nodes[node].Links)
            {
                var c = link.Counters;
                Assert.Equal(c.Forwarded, c.Acknowledged);
                Assert.Equal(0, c.InFlight);
                Assert.Equal(0, c.Duplicates); // no reconnect happened, so nothing was resent
            }
        }
    }

    /// <summary>A C# host reads a link as C's <c>ipi_node_link</c> does: one peer's snapshot, or every link's, by peer id.</summary>
    [Fact]
    public async Task A_host_reads_each_link_s_counters_and_state_through_the_public_snapshot()
    {
        int[] nodeOfVcpu = [0, 1, 2, 0, 1, 2];
        await using var cluster = LoopbackCluster.Start(nodeOfVcpu);
        var senders = cluster.Nodes.Select(n => Task.Run(() => Workload.Run(n, nodeOfVcpu, 2_000), TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(senders).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(await cluster.DrainAsync(Bound), "not every record was acknowledged: " + string.Join(" | ", cluster.Log));

        NodeTransport middle = cluster.Nodes[1];
        IReadOnlyList<LinkCounters> links = middle.ReadLinks();
        Assert.Equal([0, 2], links.Select(l => l.PeerNode));
        foreach (LinkCounters link in links)
        {
            Assert.Equal(LinkState.Connected, link.State);
            Assert.True(link.Forwarded > 0, $"nothing forwarded to node {link.PeerNode}: {link}");
            Assert.Equal(link.Forwarded, link.Acknowledged);
            Assert.Equal(0, link.InFlight);
            Assert.Equal(link.Applied, cluster.Nodes[link.PeerNode].ReadLink(1).Forwarded); // what node 1 applied is what that peer sent it
            Assert.True(link.Connections >= 1, $"no connection counted: {link}");
            Assert.True(link.Times.Connected > TimeSpan.Zero && link.Times.Of(LinkState.Connected) == link.Times.Connected);
            Assert.Equal(link.PeerNode, middle.ReadLink(link.PeerNode).PeerNode);
        }

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => middle.ReadLink(1));
        Assert.Contains("node 1 is not a peer of node 1", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => middle.ReadLink(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => middle.ReadLink(3));
    }

    [Fact]
    public async Task Forward_to_a_node_that_is_not_a_peer_is_refused_with_a_clear_error()
    {
        await using var cluster = LoopbackCluster.Start([0, 1]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cluster.Nodes[0].Forward(7, default));
        Assert.Contains("not a peer", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The acceptor, which holds the VM's key, hears the dialer's refusal only as an untagged goodbye. That was counted as
    /// a lost connection, so its operator could not tell a peer with another key from a flaky network; it is now counted
    /// as a rejected handshake, and never as a lost connection.
    /// </summary>
    [Fact]
    public async Task A_wrong_key_is_refused_on_both_sides_and_nothing_is_delivered()
    {
        int[] placement = [0, 1];
        var acceptor = new RecordingSink();
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var b = new NodeTransport(new TransportOptions
        {
            NodeId = 1, NodeOfVcpu = placement, Key = LoopbackCluster.Key, Peers = [new PeerAddress(0)], Log = log.Enqueue,
        });
        b.Start(acceptor);
        byte[] wrongKey = [.. LoopbackCluster.Key];
        wrongKey[0] ^= 1;
        await using var a = new NodeTransport(new TransportOptions
        {
            NodeId = 0, NodeOfVcpu = placement, Key = wrongKey, Peers = [new PeerAddress(1, b.LocalEndPoint)], Log = log.Enqueue,
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(50),
        });
        a.Start(new RecordingSink());
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => a.FaultCount(LinkFault.WrongKey) > 0 && b.RejectedHandshakes > 0, Bound),
            $"dialer: wrong key {a.FaultCount(LinkFault.WrongKey)}; acceptor: rejected handshakes {b.RejectedHandshakes}, connections lost {b.FaultCount(LinkFault.ConnectionLost)}: " + string.Join(" | ", log));
        Assert.False(a.Link(1).IsConnected);
        Assert.False(b.Link(0).IsConnected);
        Assert.Contains(log, line => line.Contains("could not prove it holds this VM's key", StringComparison.Ordinal));
        Assert.Contains(log, line => line.Contains("untagged goodbye (it says WrongKey", StringComparison.Ordinal)); // the acceptor logs the claim
        Assert.Equal(0, b.FaultCount(LinkFault.ConnectionLost)); // was one per refused handshake
        Assert.Equal(0, a.RejectedHandshakes); // the dialer's refusal is its own, proven: WrongKey
        Assert.Equal(0, acceptor.Count);
    }

    [Fact]
    public async Task A_second_node_cannot_listen_on_a_port_that_is_taken()
    {
        var options = new TransportOptions { NodeId = 1, NodeOfVcpu = [0, 1], Key = LoopbackCluster.Key, Peers = [new PeerAddress(0)] };
        await using var first = new NodeTransport(options);
        first.Start(new RecordingSink());
        await using var second = new NodeTransport(new TransportOptions
        {
            NodeId = 1, NodeOfVcpu = [0, 1], Key = LoopbackCluster.Key, Peers = [new PeerAddress(0)], Listen = first.LocalEndPoint,
        });
        Assert.Throws<System.Net.Sockets.SocketException>(() => second.Start(new RecordingSink()));
    }
}
