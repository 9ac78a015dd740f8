using System.Buffers;
using System.Net;
using System.Net.Sockets;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// Handshake goodbyes, the order of handshakes from one peer, and acknowledgements bounded by the connection (review of
/// 2026-12-07, third); a goodbye that no reset overtakes.
/// </summary>
public partial class HostilePeerTests
{
    private static byte[] UntaggedGoodbye(LinkFault reason) => [.. Header(FrameKind.Goodbye, 4, 0), .. BitConverter.GetBytes((uint)reason)];

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var bytes = new byte[count];
        using var bounded = BoundedToken();
        for (int read = 0; read < count;)
        {
            int got = await socket.ReceiveAsync(bytes.AsMemory(read), SocketFlags.None, bounded.Token);
            Assert.True(got > 0, $"the stream ended after {read} of {count} bytes");
            read += got;
        }
        return bytes;
    }

    private static int HandshakeFrameBytes(FrameKind kind) => FrameHeader.Size + FrameHeader.FixedPayloadLength(kind);

    public static TheoryData<string> UntaggedGoodbyeMoments => new() { "instead of the hello", "after a hello" };

    /// <summary>
    /// Reproduced: a goodbye during the handshake was taken at its word before any key was proven, so anyone who can
    /// reach the port raised whichever fault counter it named (here TopologyMismatch). It is now counted as a rejected
    /// handshake (under no fault: nor as a lost connection, which an operator must tell apart from a refusal).
    /// </summary>
    [Theory]
    [MemberData(nameof(UntaggedGoodbyeMoments))]
    public async Task An_untagged_goodbye_at_the_acceptor_is_not_counted_as_the_fault_it_names(string when)
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        var target = cluster.Nodes[1];
        long lostBefore = target.FaultCount(LinkFault.ConnectionLost), rejectedBefore = target.RejectedHandshakes;
        using (var attacker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await attacker.ConnectAsync(target.LocalEndPoint, TestContext.Current.CancellationToken);
            byte[] goodbye = UntaggedGoodbye(LinkFault.TopologyMismatch);
            await attacker.SendAsync(when == "after a hello" ? [.. Hello(0, 1), .. goodbye] : goodbye, SocketFlags.None, TestContext.Current.CancellationToken);
            Assert.True(await LoopbackCluster.WaitUntilAsync(
                () => target.FaultCount(LinkFault.TopologyMismatch) > 0 || target.RejectedHandshakes > rejectedBefore, Bound), string.Join(" | ", cluster.Log));
        }
        Assert.Equal(0, target.FaultCount(LinkFault.TopologyMismatch));
        Assert.Equal(lostBefore, target.FaultCount(LinkFault.ConnectionLost));
        Assert.Contains(cluster.Log, line => line.Contains("untagged goodbye (it says TopologyMismatch", StringComparison.Ordinal));
    }

    /// <summary>
    /// Reproduced: whoever answered a dialer's Hello with an untagged goodbye set the dialer's count and its link's last
    /// fault. The link now reads it as the connection lost, and the node counts it as a rejected handshake.
    /// </summary>
    [Fact]
    public async Task An_untagged_goodbye_at_the_dialer_is_not_taken_as_its_link_fault()
    {
        using var impostor = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        impostor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        impostor.Listen(4);
        await using var cluster = LoopbackCluster.Start(TwoNodes, route: (_, _) => (IPEndPoint)impostor.LocalEndPoint!, absent: 1);
        var dialer = cluster.Nodes[0];
        using (var answer = await impostor.AcceptAsync(TestContext.Current.CancellationToken))
        {
            await ReceiveExactlyAsync(answer, HandshakeFrameBytes(FrameKind.Hello));
            await answer.SendAsync(UntaggedGoodbye(LinkFault.TopologyMismatch), SocketFlags.None, TestContext.Current.CancellationToken);
            Assert.True(await LoopbackCluster.WaitUntilAsync(
                () => dialer.FaultCount(LinkFault.TopologyMismatch) > 0 || dialer.RejectedHandshakes > 0, Bound), string.Join(" | ", cluster.Log));
        }
        Assert.Equal(0, dialer.FaultCount(LinkFault.TopologyMismatch));
        Assert.Equal(0, dialer.FaultCount(LinkFault.ConnectionLost));
        Assert.Equal(LinkFault.ConnectionLost, dialer.Link(1).Counters.LastFault);
    }

    /// <summary>
    /// Reproduced: a refusal the acceptor makes once both sides hold the keys (here of a resume block with a negative
    /// sequence) is sealed, and in AES-GCM mode its reason is encrypted; the dialer read the ciphertext as the reason and
    /// reported UnexpectedFrame. It now opens the goodbye and reports the reason (GMAC mode: as before, now authenticated).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_refusal_sealed_once_the_keys_exist_reaches_the_dialer_with_its_reason(bool encrypt)
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, absent: 0, tune: o => o with { Encrypt = encrypt });
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(cluster.Nodes[1].LocalEndPoint, TestContext.Current.CancellationToken);
        await using var liar = new LinkConnection(socket, TestContext.Current.CancellationToken);
        using var timeout = BoundedToken();
        var claim = new ResumeState(ResendFrom: -1, KnownPeerIncarnation: 0, NextExpected: 0);

        var refusal = await Assert.ThrowsAsync<LinkProtocolException>(
            () => Handshake.DialAsync(liar, 0, 1, 0xBAD, LoopbackCluster.Key, encrypt, () => claim, timeout.Token));

        Assert.Equal(LinkFault.BadAcknowledgement, refusal.Fault); // was UnexpectedFrame with encrypt: the reason read encrypted
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.BadAcknowledgement) > 0, Bound));
    }

    /// <summary>
    /// Reproduced (SinkFailureTests once counted 2 of its 3 SinkFailed under load): a node that closed a connection with a
    /// goodbye then closed its socket at once, so the peer's next frame met a closed socket and the kernel reset the
    /// connection. A peer whose send failed on that reset before its receive loop read the goodbye counted the connection
    /// lost, not the reason (and redialed a failing sink without the backoff). The node now ends its side after the
    /// goodbye and drops what the peer still sends until the peer closes too: the peer's sends keep working meanwhile.
    /// </summary>
    [Fact]
    public async Task A_goodbye_is_not_overtaken_by_a_reset_while_the_peer_still_sends()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, absent: 0);
        cluster.Sinks[1].ThrowNext = 1;
        var ct = TestContext.Current.CancellationToken;
        await using var peer = await DialAsNode0Async(cluster);
        FrameWriter.WriteRaw(peer.Writer, peer.Protection!, DeliveryFrame(0, new RemoteDelivery(1, 0, 0, 2, 0x40, 2)));
        await peer.Writer.FlushAsync(ct);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.SinkFailed) > 0, Bound), string.Join(" | ", cluster.Log));

        // The peer's send loop goes on before its receive loop reads the goodbye (a late thread on a loaded machine).
        for (int beat = 0; beat < 5; beat++)
        {
            await Task.Delay(20, ct);
            FrameWriter.WriteEmpty(peer.Writer, peer.Protection!, FrameKind.Heartbeat, 0);
            var failed = await Record.ExceptionAsync(async () => await peer.Writer.FlushAsync(ct));
            Assert.True(failed is null, $"heartbeat {beat} after the goodbye: {failed?.Message}"); // was the reset
        }

        // Its receive loop then reads the goodbye, and the end of the stream.
        LinkFault? said = null;
        using var bounded = BoundedToken();
        while (true)
        {
            var read = await peer.Reader.ReadAsync(bounded.Token);
            var buffer = read.Buffer;
            while (FrameHeader.TryRead(buffer, out var header) && buffer.Length >= FrameHeader.Size + header.PayloadLength + FrameProtection.TagSize)
            {
                byte[] frame = buffer.Slice(0, FrameHeader.Size + header.PayloadLength + FrameProtection.TagSize).ToArray();
                buffer = buffer.Slice(frame.Length);
                int tagAt = frame.Length - FrameProtection.TagSize;
                Assert.True(peer.Protection!.TryOpen(frame.AsSpan(0, tagAt), frame.AsSpan(tagAt), new byte[frame.Length], out var payload));
                if (header.Kind == FrameKind.Goodbye)
                    said = (LinkFault)BitConverter.ToUInt32(payload);
            }
            peer.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
                break;
        }
        Assert.Equal(LinkFault.SinkFailed, said);
    }

    /// <summary>
    /// Reproduced: the newest handshake won by the moment its Auth checked out, not by when its Hello came. An Auth that
    /// the network held back, sent by an incarnation of node 0 that died after sending it, took the link from the
    /// incarnation that restarted meanwhile and set the receive state back to the dead one; when the live one resent its
    /// unacknowledged records, node 1 applied them twice. Handshakes are now ordered by their Hello, which a dead
    /// incarnation's always precedes (its Auth answers a Challenge sent after its Hello came, and the restart follows it).
    /// </summary>
    [Fact]
    public async Task A_held_back_auth_of_a_dead_incarnation_never_takes_the_link_from_the_one_that_restarted()
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes, absent: 0, tune: o => o with { HandshakeTimeout = TimeSpan.FromSeconds(30) });
        var node1 = cluster.Nodes[1];
        var link = node1.Link(0);
        var ct = TestContext.Current.CancellationToken;

        // Incarnation 0xA1 dials through a relay the test holds: its Hello and node 1's Challenge pass, its Auth is held.
        using var relay = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        relay.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        relay.Listen(1);
        var deadSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await deadSocket.ConnectAsync(relay.LocalEndPoint!, ct);
        await using var dead = new LinkConnection(deadSocket, ct);
        using var fromDead = await relay.AcceptAsync(ct);
        using var toNode1 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await toNode1.ConnectAsync(node1.LocalEndPoint, ct);
        using var deadGivesUp = BoundedToken();
        var deadDial = Handshake.DialAsync(dead, 0, 1, 0xA1, LoopbackCluster.Key, false, () => default, deadGivesUp.Token);
        await toNode1.SendAsync(await ReceiveExactlyAsync(fromDead, HandshakeFrameBytes(FrameKind.Hello)), SocketFlags.None, ct);
        await fromDead.SendAsync(await ReceiveExactlyAsync(toNode1, HandshakeFrameBytes(FrameKind.Challenge)), SocketFlags.None, ct);
        byte[] heldAuth = await ReceiveExactlyAsync(fromDead, HandshakeFrameBytes(FrameKind.Auth));

        // Node 0 restarts as 0xB2, connects, and node 1 applies its ten records (their acknowledgement never reaches it).
        var records = Enumerable.Range(0, 10).Select(i => new RemoteDelivery((ulong)i, 1, 0, 2, 0xFD, 2)).ToArray();
        await using var live = await DialAsNode0Async(cluster, incarnation: 0xB2);
        FrameWriter.WriteRaw(live.Writer, live.Protection!, DeliveryFrame(0, records));
        await live.Writer.FlushAsync(ct);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[1].Count == 10, Bound), string.Join(" | ", cluster.Log));

        // The dead incarnation's Auth arrives now.
        long replacedBefore = node1.FaultCount(LinkFault.Replaced);
        await toNode1.SendAsync(heldAuth, SocketFlags.None, ct);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => node1.FaultCount(LinkFault.Replaced) > replacedBefore, Bound), string.Join(" | ", cluster.Log));
        await Task.Delay(200, ct); // a dead handshake that took the link has set the receive state back by now
        Assert.Equal(0xB2ul, link.PeerIncarnation);

        // 0xB2 reconnects and resends its unacknowledged records: node 1 applies none of them again.
        await using var again = await DialAsNode0Async(cluster, incarnation: 0xB2, resume: new ResumeState(0, node1.Incarnation, 0));
        FrameWriter.WriteRaw(again.Writer, again.Protection!, DeliveryFrame(0, records));
        await again.Writer.FlushAsync(ct);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => link.Counters.Applied + link.Counters.Duplicates == 20, Bound), string.Join(" | ", cluster.Log));
        Assert.Equal(10, link.Counters.Applied);
        Assert.Equal(10, cluster.Sinks[1].Count);

        await deadGivesUp.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => deadDial);
    }

    /// <summary>
    /// Reproduced: an acknowledgement was bounded by every record any connection ever wrote, not by what the running
    /// one wrote. After a reconnect the link resends from the first unacknowledged record; here node 0 stops reading, so
    /// the resend stalls far short of what the first connection sent, and node 0 acknowledges all of it on the second.
    /// Node 1 took it (and could recycle the queue's slabs under the records its send loop was about to read); it now
    /// closes the connection with BadAcknowledgement and releases nothing.
    /// </summary>
    [Fact]
    public async Task An_acknowledgement_past_what_the_running_connection_sent_is_refused()
    {
        const int Records = 1 << 19; // 16 MiB of records: far past the socket buffers, so the resend stalls
        await using var cluster = LoopbackCluster.Start(TwoNodes, absent: 0, tune: o => o with { WindowRecords = 1 << 20 });
        var node1 = cluster.Nodes[1];
        var link = node1.Link(0);
        var batch = Enumerable.Range(0, 4096).Select(i => new RemoteDelivery((ulong)i, 0, 2, 0, 0xFD, 0)).ToArray();
        for (int queued = 0; queued < Records; queued += batch.Length)
            Assert.Equal(0, node1.Forward(0, batch));

        // The first connection carries them all; node 0 reads them and acknowledges none.
        await using (var first = await DialAsNode0Async(cluster))
        {
            using var bounded = BoundedToken();
            while (link.Counters.RecordsSent < Records)
            {
                var read = await first.Reader.ReadAsync(bounded.Token);
                first.Reader.AdvanceTo(read.Buffer.End);
            }
        }
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => !link.IsConnected, Bound));

        // The second resends from 0 into a socket node 0 no longer reads.
        await using var second = await DialAsNode0Async(cluster, resume: new ResumeState(0, node1.Incarnation, 0), receiveBuffer: 4096);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        long resent = link.Counters.RecordsSent - Records;
        Assert.True(resent < Records / 2, $"the resend did not stall: {resent} records written");

        FrameWriter.WriteRaw(second.Writer, second.Protection!, Header(FrameKind.Ack, 0, 0, sequence: Records));
        await second.Writer.FlushAsync(TestContext.Current.CancellationToken);
        Assert.True(await LoopbackCluster.WaitUntilAsync(
            () => node1.FaultCount(LinkFault.BadAcknowledgement) > 0 || link.Counters.Acknowledged > 0, Bound), string.Join(" | ", cluster.Log));
        Assert.Equal(0, link.Counters.Acknowledged);
        Assert.Equal(1, node1.FaultCount(LinkFault.BadAcknowledgement));
    }
}
