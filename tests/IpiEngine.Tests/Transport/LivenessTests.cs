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
