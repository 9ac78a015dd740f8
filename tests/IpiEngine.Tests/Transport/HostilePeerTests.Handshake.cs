using System.Net;
using System.Net.Sockets;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Goodbyes during the handshake (review of 2026-12-07, third).</summary>
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
    /// reach the port raised whichever fault counter it named (here TopologyMismatch). It now counts as the connection lost.
    /// </summary>
    [Theory]
    [MemberData(nameof(UntaggedGoodbyeMoments))]
    public async Task An_untagged_goodbye_at_the_acceptor_is_not_counted_as_the_fault_it_names(string when)
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        var target = cluster.Nodes[1];
        long lostBefore = target.FaultCount(LinkFault.ConnectionLost);
        using (var attacker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await attacker.ConnectAsync(target.LocalEndPoint, TestContext.Current.CancellationToken);
            byte[] goodbye = UntaggedGoodbye(LinkFault.TopologyMismatch);
            await attacker.SendAsync(when == "after a hello" ? [.. Hello(0, 1), .. goodbye] : goodbye, SocketFlags.None, TestContext.Current.CancellationToken);
            Assert.True(await LoopbackCluster.WaitUntilAsync(
                () => target.FaultCount(LinkFault.TopologyMismatch) > 0 || target.FaultCount(LinkFault.ConnectionLost) > lostBefore, Bound), string.Join(" | ", cluster.Log));
        }
        Assert.Equal(0, target.FaultCount(LinkFault.TopologyMismatch));
        Assert.Contains(cluster.Log, line => line.Contains("untagged goodbye (it says TopologyMismatch", StringComparison.Ordinal));
    }

    /// <summary>Reproduced: whoever answered a dialer's Hello with an untagged goodbye set the dialer's count and its link's last fault.</summary>
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
                () => dialer.FaultCount(LinkFault.TopologyMismatch) > 0 || dialer.FaultCount(LinkFault.ConnectionLost) > 0, Bound), string.Join(" | ", cluster.Log));
        }
        Assert.Equal(0, dialer.FaultCount(LinkFault.TopologyMismatch));
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
}
