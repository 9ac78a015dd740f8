using System.Buffers.Binary;
using System.Net.Sockets;
using IpiEngine.Cli.Nodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Garbage, mutated and lying frames sent at a node: it closes that connection and keeps serving its real peer.</summary>
public class HostilePeerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly int[] TwoNodes = [0, 0, 1, 1];

    /// <summary>Node 0 is played by the test (an impostor that holds the key); nodes 1 and 2 are real.</summary>
    private static readonly int[] ThreeNodes = [0, 0, 1, 1, 2, 2];

    private static LoopbackCluster StartWithoutNode0() => LoopbackCluster.Start(ThreeNodes, absent: 0);

    /// <summary>Node 1's link to node 2 still carries traffic, exactly once and in order.</summary>
    private static async Task AssertOtherLinkServesAsync(LoopbackCluster cluster)
    {
        var remote = NodeWorkload.VcpusOf(ThreeNodes, 2);
        var batch = Enumerable.Range(0, 300).Select(i => NodeWorkload.Make(2, (ulong)i, remote)).ToArray();
        cluster.Nodes[1].Link(2).Forward(batch);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(2).Counters.InFlight == 0, Bound), string.Join(" | ", cluster.Log));
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[2].Count == 300, Bound));
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (ulong)i), cluster.Sinks[2].Snapshot().Select(r => r.Delivery.Tag));
    }

    private static byte[] Header(FrameKind kind, uint length, uint count, ulong sequence = 0, uint magic = FrameHeader.Magic)
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(kind, length, count, sequence).Write(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, magic);
        return bytes;
    }

    private static byte[] Hello(int from, int to) => [.. Header(FrameKind.Hello, 48, 0), .. BitConverter.GetBytes(from), .. BitConverter.GetBytes(to), .. new byte[40]];

    public static TheoryData<string, byte[], bool, LinkFault> Garbage => new()
    {
        { "bad magic", Header(FrameKind.Hello, 48, 0, magic: 0xDEADBEEF), false, LinkFault.BadMagic },
        { "length past the bound", Header(FrameKind.Deliveries, 0xFFFF_FFE0, 0x07FF_FFFF), false, LinkFault.LengthOutOfBounds },
        { "unknown kind", [.. Header(FrameKind.Hello, 48, 0)[..5], 0x42, .. Header(FrameKind.Hello, 48, 0)[6..]], false, LinkFault.UnknownFrameKind },
        { "truncated frame", [.. Header(FrameKind.Hello, 48, 0), .. new byte[10]], true, LinkFault.TruncatedFrame },
        { "unknown node", Hello(from: 5, to: 1), false, LinkFault.UnknownNode },
        { "wrong target node", Hello(from: 0, to: 3), false, LinkFault.UnknownNode },
        { "deliveries before the handshake", Header(FrameKind.Deliveries, 32, 1).Concat(new byte[32]).ToArray(), false, LinkFault.UnexpectedFrame },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task Garbage_before_the_handshake_closes_that_connection_with_a_reason_and_the_node_keeps_serving(string what, byte[] bytes, bool closeAfter, LinkFault reason)
    {
        await using var cluster = LoopbackCluster.Start(TwoNodes);
        var target = cluster.Nodes[1];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using (var attacker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await attacker.ConnectAsync(target.LocalEndPoint, TestContext.Current.CancellationToken);
            await attacker.SendAsync(bytes, SocketFlags.None, TestContext.Current.CancellationToken);
            if (closeAfter)
                attacker.Shutdown(SocketShutdown.Send);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => target.FaultCount(reason) > 0, Bound), $"{what}: not refused as {reason}: " + string.Join(" | ", cluster.Log));
            // The node closed the connection: reading ends (after the goodbye frame, if any).
            var buffer = new byte[256];
            while (await attacker.ReceiveAsync(buffer, SocketFlags.None, TestContext.Current.CancellationToken) > 0)
            {
            }
        }
        // A hostile length must not turn into an allocation: far less than the 4 GiB it claimed.
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore < 256L << 20);
        Assert.Contains(cluster.Log, line => line.Contains("refused connection", StringComparison.Ordinal));

        // The real peer is unaffected.
        await Task.Run(() => Workload.Run(cluster.Nodes[0], TwoNodes, perSource: 500), TestContext.Current.CancellationToken);
        Assert.True(await cluster.Nodes[0].DrainAsync(Bound).WaitAsync(TestContext.Current.CancellationToken));
        Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), TwoNodes, self: 1, perSource: 500);
    }

    /// <summary>Authenticates as node 0 (a buggy peer that holds the key), then sends <paramref name="frames"/>.</summary>
    private static async Task<LinkConnection> ImpersonateNode0Async(LoopbackCluster cluster, byte[] frames)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(cluster.Nodes[1].LocalEndPoint, TestContext.Current.CancellationToken);
        var connection = new LinkConnection(socket, TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Bound);
        await Handshake.DialAsync(connection, 0, 1, 0xBAD, LoopbackCluster.Key, () => default, timeout.Token);
        await connection.Writer.WriteAsync(frames, TestContext.Current.CancellationToken);
        return connection;
    }

    private static byte[] DeliveryFrame(ulong sequence, params RemoteDelivery[] records)
        => [.. Header(FrameKind.Deliveries, (uint)records.Length * 32, (uint)records.Length, sequence),
            .. System.Runtime.InteropServices.MemoryMarshal.AsBytes(records.AsSpan()).ToArray()];

    public static TheoryData<string, LinkFault> Lies => new()
    {
        { "vcpu that does not exist", LinkFault.RecordOutsidePlacement },
        { "vcpu on the wrong node", LinkFault.RecordOutsidePlacement },
        { "sequence gap", LinkFault.SequenceGap },
        { "ack of records never sent", LinkFault.BadAcknowledgement },
        { "second hello", LinkFault.UnexpectedFrame },
    };

    [Theory]
    [MemberData(nameof(Lies))]
    public async Task An_authenticated_peer_that_lies_is_cut_off_with_a_reason_and_nothing_it_sent_is_applied(string what, LinkFault reason)
    {
        await using var cluster = StartWithoutNode0();
        byte[] frames = what switch
        {
            "vcpu that does not exist" => DeliveryFrame(0, new RemoteDelivery(0, 0, 0, 99, 0xFD, 99)),
            "vcpu on the wrong node" => DeliveryFrame(0, new RemoteDelivery(0, 0, 0, 2, 0xFD, 2), new RemoteDelivery(1, 0, 0, 1, 0xFD, 1)),
            "sequence gap" => DeliveryFrame(1_000, new RemoteDelivery(0, 0, 0, 2, 0xFD, 2)),
            "ack of records never sent" => Header(FrameKind.Ack, 0, 0, sequence: 1_000_000),
            _ => Hello(0, 1),
        };
        await using (var liar = await ImpersonateNode0Async(cluster, frames))
        {
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(reason) > 0, Bound), $"{what}: not cut off as {reason}: " + string.Join(" | ", cluster.Log));
        }
        Assert.Equal(0, cluster.Sinks[1].Count);
        await AssertOtherLinkServesAsync(cluster);
    }

    [Fact]
    public async Task A_resent_frame_is_applied_once_and_the_overlap_is_counted_as_duplicates()
    {
        await using var cluster = StartWithoutNode0();
        var a = new RemoteDelivery(0, 0, 0, 2, 0xFD, 2);
        var b = new RemoteDelivery(0, 0, 1, 3, 0xFD, 3);
        var c = new RemoteDelivery(1, 0, 0, 3, 0xFD, 3);
        // Records 0 and 1, then 0..2 again (a resend that overlaps), then 0..2 once more (all already applied).
        byte[] frames = [.. DeliveryFrame(0, a, b), .. DeliveryFrame(0, a, b, c), .. DeliveryFrame(0, a, b, c)];
        await using (var peer = await ImpersonateNode0Async(cluster, frames))
        {
            await peer.Writer.FlushAsync(TestContext.Current.CancellationToken);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(0).Counters.Duplicates == 5, Bound));
        }
        Assert.Equal([a, b, c], cluster.Sinks[1].Snapshot().Select(r => r.Delivery).Take(3));
        Assert.Equal(3, cluster.Nodes[1].Link(0).Counters.Applied);
    }

    [Fact]
    public async Task Randomly_mutated_frame_streams_never_crash_the_node()
    {
        await using var cluster = StartWithoutNode0();
        var random = new Random(42);
        const ulong ImpostorTag = 0xBAD_0000_0000;
        const long ImpostorTime = 0x7777_7777_7777_7777;
        var valid = DeliveryFrame(0, new RemoteDelivery(ImpostorTag, ImpostorTime, 0, 2, 0xFD, 2), new RemoteDelivery(ImpostorTag, ImpostorTime, 1, 3, 0xFD, 3));
        for (int i = 0; i < 20; i++)
        {
            var mutated = Enumerable.Repeat(valid, 3).SelectMany(f => f).ToArray();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                mutated[random.Next(mutated.Length)] ^= (byte)random.Next(1, 256);
            await using var peer = await ImpersonateNode0Async(cluster, mutated);
            await peer.Writer.FlushAsync(TestContext.Current.CancellationToken);
        }
        // Each impostor connection was closed with a reason or ended cleanly; the node still serves its other link.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(0).Counters.Connections == 20 && !cluster.Nodes[1].Link(0).IsConnected, Bound));
        await AssertOtherLinkServesAsync(cluster);
    }
}
