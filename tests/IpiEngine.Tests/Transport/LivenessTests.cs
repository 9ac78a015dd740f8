using System.Net.Sockets;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Heartbeats keep an idle link up; a peer that goes silent after the handshake is cut off.</summary>
public class LivenessTests
{
    private static readonly int[] TwoNodes = [0, 1];

    private static NodeTransport Node(int id, System.Net.IPEndPoint? peer, System.Collections.Concurrent.ConcurrentQueue<string> log, int silenceMs = 400) => new(new TransportOptions
    {
        NodeId = id,
        NodeOfVcpu = TwoNodes,
        Key = LoopbackCluster.Key,
        Peers = [new PeerAddress(1 - id, peer)],
        HeartbeatInterval = TimeSpan.FromMilliseconds(20),
        SilenceTimeout = TimeSpan.FromMilliseconds(silenceMs),
        Log = log.Enqueue,
    });

    [Fact]
    public async Task A_peer_that_says_nothing_after_the_handshake_is_closed_as_silent()
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var node = Node(1, null, log);
        node.Start(new RecordingSink());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(node.LocalEndPoint, TestContext.Current.CancellationToken);
        await using var mute = new LinkConnection(socket, TestContext.Current.CancellationToken);
        await Handshake.DialAsync(mute, 0, 1, 77, LoopbackCluster.Key, false, () => default, TestContext.Current.CancellationToken);
        // The mute peer never reads or writes again: the node must give up on it by itself.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => node.FaultCount(LinkFault.PeerSilent) == 1, TimeSpan.FromSeconds(20)), string.Join(" | ", log));
        Assert.False(node.Link(0).IsConnected);
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07): a node's stop cancelled its connections' loops before it aborted its links
    /// with <see cref="LinkFault.Shutdown"/>, and a loop that ended cancelled carries no exception, so the close was
    /// often recorded as <see cref="LinkFault.ConnectionLost"/>, and then no goodbye went to the peer.
    /// </summary>
    [Fact]
    public async Task A_node_that_stops_counts_a_shutdown_and_tells_its_peer_goodbye()
    {
        for (int round = 0; round < 10; round++)
        {
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            await using var b = Node(1, null, log, silenceMs: 5000);
            b.Start(new RecordingSink());
            var a = Node(0, b.LocalEndPoint, log, silenceMs: 5000);
            a.Start(new RecordingSink());
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => a.Link(1).IsConnected && b.Link(0).IsConnected, TimeSpan.FromSeconds(20)));

            await a.DisposeAsync();
            Assert.True(a.FaultCount(LinkFault.Shutdown) == 1 && a.FaultCount(LinkFault.ConnectionLost) == 0,
                $"round {round}: shutdown {a.FaultCount(LinkFault.Shutdown)}, connection lost {a.FaultCount(LinkFault.ConnectionLost)}: " + string.Join(" | ", log));
            Assert.Equal(LinkFault.Shutdown, a.Link(1).Counters.LastFault);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => log.Any(line => line.Contains("the peer said goodbye (Shutdown)", StringComparison.Ordinal)), TimeSpan.FromSeconds(20)),
                $"round {round}: node 1 was not told goodbye: " + string.Join(" | ", log));
        }
    }

    [Fact]
    public void A_loop_cancelled_by_the_stop_is_a_shutdown_and_any_other_end_keeps_its_reason()
    {
        var cancelled = Task.FromCanceled(new CancellationToken(canceled: true));
        Assert.Equal(LinkFault.Shutdown, PeerLink.FaultOf(cancelled, stopping: true)); // before the fix: ConnectionLost
        Assert.Equal(LinkFault.Shutdown, PeerLink.FaultOf(Task.FromException(new OperationCanceledException()), stopping: true));
        Assert.Equal(LinkFault.ConnectionLost, PeerLink.FaultOf(cancelled, stopping: false)); // the connection's own cancel
        Assert.Equal(LinkFault.ConnectionLost, PeerLink.FaultOf(Task.FromException(new IOException("reset")), stopping: true));
        Assert.Equal(LinkFault.ConnectionLost, PeerLink.FaultOf(Task.CompletedTask, stopping: false)); // the peer closed
        var refused = new LinkProtocolException(LinkFault.BadMac, "tag mismatch");
        Assert.Equal(LinkFault.BadMac, PeerLink.FaultOf(Task.FromException(refused), stopping: true));
    }

    [Fact]
    public async Task Heartbeats_keep_an_idle_link_up_well_past_the_silence_timeout()
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // Heartbeats every 20 ms against a 1 s silence timeout: fifty missed in a row before a false alarm.
        await using var b = Node(1, null, log, silenceMs: 1000);
        b.Start(new RecordingSink());
        await using var a = Node(0, b.LocalEndPoint, log, silenceMs: 1000);
        a.Start(new RecordingSink());
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => a.Link(1).IsConnected && b.Link(0).IsConnected, TimeSpan.FromSeconds(20)));
        // Idle for several silence timeouts. Without heartbeats both sides would close the link as silent.
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.Equal(0, a.FaultCount(LinkFault.PeerSilent) + b.FaultCount(LinkFault.PeerSilent));
        Assert.Equal(1, a.Link(1).Counters.Connections);
    }
}
