using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using IpiEngine.Cli.Nodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// HostilePeerTests reads the process-wide allocation counter (a hostile length must not become an allocation), which a
/// test running beside it (the 2048-vCPU trace replay allocates hundreds of MB) would move: so it runs alone.
/// </summary>
[CollectionDefinition(nameof(HostilePeerTests), DisableParallelization = true)]
public sealed class HostilePeersRunAlone;

/// <summary>Garbage, mutated and lying frames sent at a node: it closes that connection and keeps serving its real peer.</summary>
[Collection(nameof(HostilePeerTests))]
public partial class HostilePeerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly int[] TwoNodes = [0, 0, 1, 1];

    /// <summary>Node 0 is played by the test (an impostor that holds the key); nodes 1 and 2 are real.</summary>
    private static readonly int[] ThreeNodes = [0, 0, 1, 1, 2, 2];

    private static LoopbackCluster StartWithoutNode0() => LoopbackCluster.Start(ThreeNodes, absent: 0);

    /// <summary>Node 1's link to node 2 still carries traffic, exactly once and in order.</summary>
    private static async Task AssertOtherLinkServesAsync(LoopbackCluster cluster, int round = 0)
    {
        var remote = NodeWorkload.VcpusOf(ThreeNodes, 2);
        var batch = Enumerable.Range(round * 300, 300).Select(i => NodeWorkload.Make(2, (ulong)i, remote)).ToArray();
        cluster.Nodes[1].Link(2).Forward(batch);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(2).Counters.InFlight == 0, Bound), string.Join(" | ", cluster.Log));
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[2].Count == (round + 1) * 300, Bound));
        Assert.Equal(Enumerable.Range(0, (round + 1) * 300).Select(i => (ulong)i), cluster.Sinks[2].Snapshot().Select(r => r.Delivery.Tag));
    }

    /// <summary>The test's token, cancelled after <see cref="Bound"/> too: a read the node never ends fails the test instead of hanging it.</summary>
    private static CancellationTokenSource BoundedToken()
    {
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        bounded.CancelAfter(Bound);
        return bounded;
    }

    private static byte[] Header(FrameKind kind, uint length, uint count, ulong sequence = 0, uint magic = FrameHeader.Magic)
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(kind, length, count, sequence).Write(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, magic);
        return bytes;
    }

    private static byte[] Hello(int from, int to) => [.. Header(FrameKind.Hello, 52, 0), .. BitConverter.GetBytes(from), .. BitConverter.GetBytes(to), .. new byte[44]];

    public static TheoryData<string, byte[], bool, LinkFault> Garbage => new()
    {
        { "bad magic", Header(FrameKind.Hello, 52, 0, magic: 0xDEADBEEF), false, LinkFault.BadMagic },
        { "protocol version 1", [.. Header(FrameKind.Hello, 48, 0)[..4], 1, .. Header(FrameKind.Hello, 48, 0)[5..], .. new byte[48]], false, LinkFault.UnsupportedVersion },
        { "length past the bound", Header(FrameKind.Deliveries, 0xFFFF_FFE0, 0x07FF_FFFF), false, LinkFault.LengthOutOfBounds },
        { "unknown kind", [.. Header(FrameKind.Hello, 52, 0)[..5], 0x42, .. Header(FrameKind.Hello, 52, 0)[6..]], false, LinkFault.UnknownFrameKind },
        { "truncated frame", [.. Header(FrameKind.Hello, 52, 0), .. new byte[10]], true, LinkFault.TruncatedFrame },
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
            using var bounded = BoundedToken();
            while (await attacker.ReceiveAsync(buffer, SocketFlags.None, bounded.Token) > 0)
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

    [Fact]
    public async Task A_flood_of_connections_that_never_authenticate_holds_a_bounded_number_of_receive_segments()
    {
        // Each accepted connection rents a 256 KiB receive segment for its handshake, which the pool keeps for good.
        // Before the limit, 20 idle connections held 20 segments (5 MiB) until their handshakes timed out, and a
        // flood from anyone who can reach the port grew the process without bound.
        const int limit = 4, flood = 20;
        await using var cluster = LoopbackCluster.Start(TwoNodes, tune: o => o with { PendingHandshakeLimit = limit, HandshakeTimeout = TimeSpan.FromSeconds(30) });
        var target = cluster.Nodes[1];
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected && target.PendingHandshakes == 0, Bound), string.Join(" | ", cluster.Log));
        int inUseBefore = SegmentPool.Receive.InUse;
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < flood; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync(target.LocalEndPoint, TestContext.Current.CancellationToken);
            }

            Assert.True(await LoopbackCluster.WaitUntilAsync(() => target.FaultCount(LinkFault.TooManyHandshakes) == flood - limit, Bound),
                $"refused {target.FaultCount(LinkFault.TooManyHandshakes)} of {flood - limit}: " + string.Join(" | ", cluster.Log));
            Assert.Equal(limit, target.PendingHandshakes);
            Assert.InRange(SegmentPool.Receive.InUse - inUseBefore, 0, limit);

            // The ones past the limit were closed unheard: no goodbye, the stream just ends. The first four wait on.
            var buffer = new byte[256];
            using var bounded = BoundedToken();
            for (int i = limit; i < flood; i++)
                Assert.Equal(0, await idle[i].ReceiveAsync(buffer, SocketFlags.None, bounded.Token));
            Assert.Equal(0, target.FaultCount(LinkFault.HandshakeTimeout));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }

        // Once the flood is gone its slots are given back, and the real peer is served exactly once and in order.
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => target.PendingHandshakes == 0, Bound));
        await Task.Run(() => Workload.Run(cluster.Nodes[0], TwoNodes, perSource: 500), TestContext.Current.CancellationToken);
        Assert.True(await cluster.Nodes[0].DrainAsync(Bound).WaitAsync(TestContext.Current.CancellationToken));
        Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), TwoNodes, self: 1, perSource: 500);
    }

    /// <summary>Authenticates as node 0 (a buggy peer that holds the key), then sends <paramref name="frames"/>, each tagged.</summary>
    private static async Task<LinkConnection> ImpersonateNode0Async(LoopbackCluster cluster, params byte[][] frames)
    {
        var connection = await DialAsNode0Async(cluster);
        foreach (var frame in frames)
            FrameWriter.WriteRaw(connection.Writer, connection.Protection!, frame);
        await connection.Writer.FlushAsync(TestContext.Current.CancellationToken);
        return connection;
    }

    /// <summary>Authenticates as node 0; <paramref name="receiveBuffer"/> (if not 0) is the socket's receive buffer, set before it connects.</summary>
    private static async Task<LinkConnection> DialAsNode0Async(LoopbackCluster cluster, ulong incarnation = 0xBAD, ResumeState resume = default, int receiveBuffer = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer != 0)
            socket.ReceiveBufferSize = receiveBuffer;
        await socket.ConnectAsync(cluster.Nodes[1].LocalEndPoint, TestContext.Current.CancellationToken);
        var connection = new LinkConnection(socket, TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Bound);
        await Handshake.DialAsync(connection, 0, 1, incarnation, LoopbackCluster.Key, false, () => resume, timeout.Token);
        return connection;
    }

    /// <summary>Tags <paramref name="frames"/> as the next frames of <paramref name="connection"/> and returns the wire bytes.</summary>
    private static byte[] Sealed(LinkConnection connection, params byte[][] frames)
    {
        var pipe = new System.IO.Pipelines.Pipe();
        foreach (var frame in frames)
            FrameWriter.WriteRaw(pipe.Writer, connection.Protection!, frame);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var read);
        return read.Buffer.ToArray();
    }

    /// <summary>
    /// Two real nodes; node 0 reaches node 1 through a gate the test closes while it plays node 0 itself, so the real
    /// node 0 cannot displace the impostor mid-test (the race that made these tests flaky), and reconnects afterwards.
    /// </summary>
    private static async Task AttackNode0LinkAsync(Func<LoopbackCluster, Task> attack, Action<LoopbackCluster> check, int perSource = 200)
    {
        FaultProxy? gate = null;
        var cluster = LoopbackCluster.Start(TwoNodes, route: (_, target) => (gate = new FaultProxy(target, seed: 1)).EndPoint);
        try
        {
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, Bound), string.Join(" | ", cluster.Log));
            gate!.Block();
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => !cluster.Nodes[1].Link(0).IsConnected && !cluster.Nodes[0].Link(1).IsConnected, Bound));
            long before = cluster.Nodes[1].Link(0).Counters.Connections;
            await attack(cluster);
            check(cluster);
            gate.Unblock();

            // The attacked link: the real node 0 reconnects, and its stream arrives exactly once, in order.
            await Task.Run(() => Workload.Run(cluster.Nodes[0], TwoNodes, perSource), TestContext.Current.CancellationToken);
            Assert.True(await cluster.Nodes[0].DrainAsync(Bound).WaitAsync(TestContext.Current.CancellationToken), string.Join(" | ", cluster.Log));
            var fromRealNode0 = cluster.Sinks[1].Snapshot().Where(r => r.Delivery.Tag < (ulong)perSource && r.Delivery.PostTimestamp == 0).ToArray();
            Workload.AssertExactlyOnceInOrder(fromRealNode0, TwoNodes, self: 1, perSource);
            Assert.True(cluster.Nodes[1].Link(0).Counters.Connections > before, "the real node 0 never reconnected");
        }
        finally
        {
            await cluster.DisposeAsync();
            if (gate is not null)
                await gate.DisposeAsync();
        }
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
        byte[] frame = what switch
        {
            "vcpu that does not exist" => DeliveryFrame(0, new RemoteDelivery(0, 0, 0, 99, 0xFD, 99)),
            "vcpu on the wrong node" => DeliveryFrame(0, new RemoteDelivery(0, 0, 0, 2, 0xFD, 2), new RemoteDelivery(1, 0, 0, 1, 0xFD, 1)),
            "sequence gap" => DeliveryFrame(1_000, new RemoteDelivery(0, 0, 0, 2, 0xFD, 2)),
            "ack of records never sent" => Header(FrameKind.Ack, 0, 0, sequence: 1_000_000),
            _ => Hello(0, 1),
        };
        await AttackNode0LinkAsync(async cluster =>
        {
            await using var liar = await ImpersonateNode0Async(cluster, frame);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(reason) > 0, Bound), $"{what}: not cut off as {reason}: " + string.Join(" | ", cluster.Log));
        }, cluster => Assert.Equal(0, cluster.Sinks[1].Count));
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07): acknowledgements were checked against the records queued, not those sent, so a
    /// peer holding the key could acknowledge records its link had never written (and the queue's slab reuse assumes no
    /// honest peer does). Here the impostor's resume block claims the ten records node 1 queued for node 0 while the link
    /// was down, before any of them went out.
    /// </summary>
    [Fact]
    public async Task A_peer_that_acknowledges_records_queued_but_never_sent_is_cut_off()
    {
        await AttackNode0LinkAsync(async cluster =>
        {
            var toNode0 = Enumerable.Range(0, 10).Select(i => new RemoteDelivery((ulong)i, 0, 2, 0, 0xFD, 0)).ToArray();
            Assert.Equal(0, cluster.Nodes[1].Forward(0, toNode0)); // queued: the link to node 0 is down
            Assert.Equal(0, cluster.Nodes[1].Link(0).Counters.RecordsSent);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(cluster.Nodes[1].LocalEndPoint, TestContext.Current.CancellationToken);
            await using var liar = new LinkConnection(socket, TestContext.Current.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(Bound);
            var claim = new ResumeState(ResendFrom: 0, KnownPeerIncarnation: cluster.Nodes[1].Incarnation, NextExpected: 10);
            try
            {
                await Handshake.DialAsync(liar, 0, 1, 0xBAD, LoopbackCluster.Key, false, () => claim, timeout.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or LinkProtocolException or System.IO.EndOfStreamException)
            {
                // refused during the handshake: what the check below looks for
            }
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.BadAcknowledgement) > 0, Bound),
                "the acknowledgement of records never sent was taken: " + string.Join(" | ", cluster.Log));
            Assert.Equal(0, cluster.Nodes[1].Link(0).Counters.Acknowledged);
        }, cluster => Assert.Equal(0, cluster.Sinks[1].Count));
    }

    /// <summary>
    /// Found by a review (2026-12-07, second): a resume block with a negative sequence number was refused after the
    /// handshake had disposed the connection's protection, so the sealed goodbye could not be written and the dialer saw
    /// the connection drop instead of the reason. The refusal now travels: the dialer reads BadAcknowledgement.
    /// </summary>
    [Fact]
    public async Task A_resume_block_with_a_negative_sequence_is_refused_with_its_reason()
    {
        await AttackNode0LinkAsync(async cluster =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(cluster.Nodes[1].LocalEndPoint, TestContext.Current.CancellationToken);
            await using var liar = new LinkConnection(socket, TestContext.Current.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(Bound);
            var claim = new ResumeState(ResendFrom: -1, KnownPeerIncarnation: 0, NextExpected: 0);

            var refusal = await Assert.ThrowsAsync<LinkProtocolException>(
                () => Handshake.DialAsync(liar, 0, 1, 0xBAD, LoopbackCluster.Key, false, () => claim, timeout.Token));

            Assert.Equal(LinkFault.BadAcknowledgement, refusal.Fault); // was ConnectionLost or TruncatedFrame: the goodbye was lost
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.BadAcknowledgement) > 0, Bound));
        }, cluster => Assert.Equal(0, cluster.Sinks[1].Count));
    }

    /// <summary>
    /// Found by a review (2026-12-07): of two authenticated connections from a peer waiting for its link (the one before
    /// still winding down), whichever took the link last won, so a connection from an incarnation that had since
    /// restarted could displace the newer one and set the receive state back to the dead incarnation (records the newer
    /// one had applied, unacknowledged, were then applied again when it resent them). The newest handshake now wins: here
    /// node 0 "restarts" twice while its first connection is held inside node 1's sink; the older waiting connection
    /// (incarnation 0xA0) must never run once the newer one (0xB0) arrived, whichever of them gets the link first.
    /// </summary>
    [Fact]
    public async Task Of_two_connections_waiting_for_the_link_the_newer_handshake_wins()
    {
        for (int round = 0; round < 6; round++)
        {
            await AttackNode0LinkAsync(async cluster =>
            {
                var link = cluster.Nodes[1].Link(0);
                using var hold = new ManualResetEventSlim();
                cluster.Sinks[1].HoldBeforeDeliver = hold;
                await using var first = await DialAsNode0Async(cluster, incarnation: 0xC0);
                FrameWriter.WriteRaw(first.Writer, first.Protection!, DeliveryFrame(0, new RemoteDelivery(0xC, 1, 0, 2, 0xFD, 2)));
                await first.Writer.FlushAsync(TestContext.Current.CancellationToken);
                Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Sinks[1].Held == 1, Bound)); // the link's loop is held

                var older = DialAsNode0Async(cluster, incarnation: 0xA0); // welcomed only once it holds the link
                await Task.Delay(100, TestContext.Current.CancellationToken);
                var newer = DialAsNode0Async(cluster, incarnation: 0xB0);
                await Task.Delay(100, TestContext.Current.CancellationToken);
                cluster.Sinks[1].HoldBeforeDeliver = null;
                hold.Set();

                await using var winner = await newer.WaitAsync(Bound, TestContext.Current.CancellationToken);
                LinkConnection? loser = null;
                try
                {
                    loser = await older.WaitAsync(Bound, TestContext.Current.CancellationToken); // welcomed: it held the link at some point
                }
                catch (Exception e) when (e is IOException or EndOfStreamException or LinkProtocolException or OperationCanceledException or SocketException)
                {
                    // closed unwelcomed: the newer handshake had come
                }
                await Task.Delay(100, TestContext.Current.CancellationToken); // an older connection that took the link back would run by now
                try
                {
                    Assert.Null(loser); // before the fix: welcomed whenever it got the link after the newer one
                    Assert.Equal(0xB0ul, link.PeerIncarnation);
                    Assert.True(link.IsConnected);
                }
                finally
                {
                    if (loser is not null)
                        await loser.DisposeAsync();
                }
            }, cluster => Assert.Single(cluster.Sinks[1].Snapshot(), r => r.Delivery.Tag == 0xC));
        }
    }

    /// <summary>What an attacker on the path (without the key) does to frames of a running link.</summary>
    public static TheoryData<string> Tampering => new() { "one bit flipped in a delivery frame", "a frame replayed", "a frame spliced from another connection", "frames reordered" };

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task A_tampered_frame_closes_the_link_as_BadMac_nothing_of_it_is_applied_and_the_link_resumes_exactly_once(string what)
    {
        var a = new RemoteDelivery(0xA, 1, 0, 2, 0xFD, 2); // post time 1: not mistaken for the real node 0's records
        var b = new RemoteDelivery(0xB, 1, 1, 3, 0xFD, 3);
        await AttackNode0LinkAsync(async cluster =>
        {
            await using var peer = await DialAsNode0Async(cluster);
            byte[] wire;
            switch (what)
            {
                case "one bit flipped in a delivery frame":
                    wire = Sealed(peer, DeliveryFrame(0, a), DeliveryFrame(1, b));
                    wire[^(FrameProtection.TagSize + 20)] ^= 0x01; // inside the second frame's record
                    break;
                case "a frame replayed":
                    wire = Sealed(peer, DeliveryFrame(0, a));
                    wire = [.. wire, .. wire]; // the same bytes again: same sequence, but the frame counter moved on
                    break;
                case "a frame spliced from another connection":
                    await using (var other = await DialAsNode0Async(cluster))
                        wire = Sealed(other, DeliveryFrame(0, a)); // valid there, under that connection's keys
                    await using (var victim = await DialAsNode0Async(cluster))
                    {
                        await victim.Writer.WriteAsync(wire, TestContext.Current.CancellationToken);
                        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.BadMac) > 0, Bound), string.Join(" | ", cluster.Log));
                    }
                    return;
                default:
                    byte[] first = Sealed(peer, DeliveryFrame(0, a));
                    byte[] second = Sealed(peer, DeliveryFrame(1, b));
                    wire = [.. second, .. first];
                    break;
            }
            await peer.Writer.WriteAsync(wire, TestContext.Current.CancellationToken);
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].FaultCount(LinkFault.BadMac) > 0, Bound), string.Join(" | ", cluster.Log));
        }, cluster =>
        {
            // Only frames before the tampered one were applied: at most record a, once; never b, never a twice.
            var applied = cluster.Sinks[1].Snapshot().Select(r => r.Delivery).ToArray();
            Assert.DoesNotContain(b, applied);
            Assert.True(applied.Count(d => d.Equals(a)) <= (what is "one bit flipped in a delivery frame" or "a frame replayed" ? 1 : 0), what);
            Assert.Contains(cluster.Log, line => line.Contains("BadMac", StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task A_bit_flipped_on_the_path_of_a_running_link_is_refused_and_the_run_still_ends_exactly_once()
    {
        FaultProxy? proxy = null;
        var cluster = LoopbackCluster.Start(TwoNodes, route: (_, target) =>
        {
            proxy = new FaultProxy(target, seed: 6) { FlipBitAtByte = 20_000, MaxPiece = 4096 };
            return proxy.EndPoint;
        });
        try
        {
            await Task.Run(() => Workload.Run(cluster.Nodes[0], TwoNodes, perSource: 5_000, batch: 16), TestContext.Current.CancellationToken);
            Assert.True(await cluster.DrainAsync(Bound), string.Join(" | ", cluster.Log.TakeLast(20)));
            Workload.AssertExactlyOnceInOrder(cluster.Sinks[1].Snapshot(), TwoNodes, self: 1, perSource: 5_000);
            Assert.True(proxy!.Flipped, "the proxy never flipped its bit, so the test proved nothing");
            // The flip lands in a payload or tag (BadMac) or in a checked header field (its own reason): never applied.
            long refused = new[] { LinkFault.BadMac, LinkFault.BadMagic, LinkFault.UnsupportedVersion, LinkFault.UnknownFrameKind,
                LinkFault.ReservedBitsSet, LinkFault.LengthOutOfBounds }.Sum(cluster.Nodes[1].FaultCount);
            Assert.True(refused > 0, string.Join(" | ", cluster.Log));
            Assert.True(cluster.Nodes[0].Link(1).Counters.Connections >= 2);
        }
        finally
        {
            await cluster.DisposeAsync();
            if (proxy is not null)
                await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_resent_frame_is_applied_once_and_the_overlap_is_counted_as_duplicates()
    {
        await using var cluster = StartWithoutNode0();
        var a = new RemoteDelivery(0, 0, 0, 2, 0xFD, 2);
        var b = new RemoteDelivery(0, 0, 1, 3, 0xFD, 3);
        var c = new RemoteDelivery(1, 0, 0, 3, 0xFD, 3);
        // Records 0 and 1, then 0..2 again (a resend that overlaps), then 0..2 once more (all already applied).
        await using (var peer = await ImpersonateNode0Async(cluster, DeliveryFrame(0, a, b), DeliveryFrame(0, a, b, c), DeliveryFrame(0, a, b, c)))
        {
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(0).Counters.Duplicates == 5, Bound));
        }
        Assert.Equal([a, b, c], cluster.Sinks[1].Snapshot().Select(r => r.Delivery).Take(3));
        Assert.Equal(3, cluster.Nodes[1].Link(0).Counters.Applied);
    }

    [Fact]
    public async Task Randomly_mutated_frame_streams_never_crash_the_node()
    {
        var random = new Random(42);
        const ulong ImpostorTag = 0xBAD_0000_0000;
        const long ImpostorTime = 0x7777_7777_7777_7777;
        var valid = DeliveryFrame(0, new RemoteDelivery(ImpostorTag, ImpostorTime, 0, 2, 0xFD, 2), new RemoteDelivery(ImpostorTag, ImpostorTime, 1, 3, 0xFD, 3));
        await AttackNode0LinkAsync(async cluster =>
        {
            long before = cluster.Nodes[1].Link(0).Counters.Connections;
            for (int i = 0; i < 20; i++)
            {
                await using var peer = await DialAsNode0Async(cluster);
                // Tagged by the impostor, then mutated on the wire: every mutated frame is refused (BadMac or its header's reason).
                var mutated = Sealed(peer, valid, valid, valid);
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                    mutated[random.Next(mutated.Length)] ^= (byte)random.Next(1, 256);
                await peer.Writer.WriteAsync(mutated, TestContext.Current.CancellationToken);
            }
            Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.Nodes[1].Link(0).Counters.Connections == before + 20 && !cluster.Nodes[1].Link(0).IsConnected, Bound));
        }, cluster => Assert.True(cluster.Nodes[1].FaultCount(LinkFault.BadMac) > 0, string.Join(" | ", cluster.Log)));

        // Three nodes, the test playing node 0: while node 1 refuses the mutated streams, its link to node 2 stays up
        // (one connection throughout) and carries its traffic exactly once and in order.
        await using var three = StartWithoutNode0();
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => three.Nodes[1].Link(2).IsConnected && three.Nodes[2].Link(1).IsConnected, Bound), string.Join(" | ", three.Log));
        long otherConnections = three.Nodes[1].Link(2).Counters.Connections;
        for (int i = 0; i < 5; i++)
        {
            await using var peer = await DialAsNode0Async(three);
            var mutated = Sealed(peer, valid, valid, valid);
            mutated[random.Next(mutated.Length)] ^= (byte)random.Next(1, 256);
            await peer.Writer.WriteAsync(mutated, TestContext.Current.CancellationToken);
            await AssertOtherLinkServesAsync(three, round: i);
        }
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => three.Nodes[1].Link(0).Counters.Connections == 5 && !three.Nodes[1].Link(0).IsConnected, Bound), string.Join(" | ", three.Log));
        Assert.Equal(otherConnections, three.Nodes[1].Link(2).Counters.Connections);
    }
}
