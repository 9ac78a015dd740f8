using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// The link between this node and one peer: one TCP connection at a time, carrying deliveries both ways.
/// Outbound records wait in the <see cref="OutboundWindow"/> until the peer acknowledges them, and are resent from
/// the first unacknowledged one after a reconnect; inbound frames are applied once, by sequence number.
/// </summary>
internal sealed partial class PeerLink : IDisposable
{
    // Bytes written before the send loop flushes, so one flush never holds more than this in the pipe.
    internal const int FlushThreshold = 256 * 1024;

    private readonly NodeTransport _node;
    private readonly OutboundWindow _window;
    private readonly WakeSignal _signal = new();
    private readonly byte[] _decrypted = new byte[FrameHeader.MaxRecordsPerFrame * FrameHeader.RecordSize]; // an encrypted frame's plain payload
    private readonly byte[] _frameScratch = new byte[FrameHeader.Size + FrameHeader.MaxRecordsPerFrame * FrameHeader.RecordSize + FrameProtection.TagSize]; // a frame cut across pipe segments
    private readonly SemaphoreSlim _gate = new(1, 1); // one connection at a time (connection setup only)
    private readonly ConcurrentQueue<TopologyMessage> _topologyOut = new(); // TopologyReplication's messages, sent before deliveries
    private LinkConnection? _current;

    private long _nextExpected;       // receive state: written by the receive loop and the handshake
    private ulong _peerIncarnation;   // which incarnation of the peer _nextExpected belongs to (0 = none yet)
    private long _hellos;             // Hellos naming this peer so far, authenticated or not (OrderHello)
    private long _newestHandshake;    // the highest Hello order of an authenticated handshake from this peer (RunAcceptedAsync: it wins)
    private long _forwarded, _abandoned, _recordsSent, _applied, _duplicates, _connections, _flushSends;
    private long _lastReceived, _lastSent;
    private int _lastFault;
    private volatile bool _heartbeatDue;

    internal PeerLink(NodeTransport node, int peerNode, TransportOptions options)
    {
        _node = node;
        PeerNode = peerNode;
        _window = new OutboundWindow(options.WindowRecords);
        _policy = options.FullQueuePolicy;
        _ordinaryReserve = _policy == FullQueuePolicy.Fail ? options.WindowRecords / 8 : 0;
    }

    /// <summary>The peer's node id.</summary>
    public int PeerNode { get; }

    /// <summary>True while a connection to the peer is authenticated and running.</summary>
    public bool IsConnected => Volatile.Read(ref _current) is not null;

    /// <summary>The link's counters now.</summary>
    public LinkCounters Counters
    {
        get
        {
            var times = ReadTimes(out var state);
            return new()
            {
                PeerNode = PeerNode,
                Forwarded = Volatile.Read(ref _forwarded),
                Acknowledged = _window.Acked,
                RecordsSent = Volatile.Read(ref _recordsSent),
                Applied = Volatile.Read(ref _applied),
                Duplicates = Volatile.Read(ref _duplicates),
                Abandoned = Volatile.Read(ref _abandoned),
                Connections = Volatile.Read(ref _connections),
                LastFault = (LinkFault)Volatile.Read(ref _lastFault),
                Unreachable = Volatile.Read(ref _unreachableCount),
                FlushSends = Volatile.Read(ref _flushSends),
                Stalled = Stopwatch.GetElapsedTime(0, Volatile.Read(ref _stallTicks)),
                State = state,
                Times = times,
            };
        }
    }

    /// <summary>Queues a topology replication message for the peer (any thread); resends are the replication's business.</summary>
    internal void SendTopology(in TopologyMessage message)
    {
        _topologyOut.Enqueue(message);
        _signal.Notify();
    }

    /// <summary>Drops the topology messages still queued (a new connection: the replication regenerates what matters).</summary>
    internal void ClearTopology() => _topologyOut.Clear();

    /// <summary>Releases the connection gate; the owning <see cref="NodeTransport"/> calls it when it stops.</summary>
    public void Dispose() => _gate.Dispose();

    /// <summary>True when every forwarded record was acknowledged.</summary>
    internal bool IsDrained => _window.Acked == _window.Published;

    /// <summary>Tests: which incarnation of the peer the receive state belongs to (0: none yet).</summary>
    internal ulong PeerIncarnation => Volatile.Read(ref _peerIncarnation); // acquire: written under the gate by a handshake

    internal ResumeState CaptureResume() => new(_window.Acked, _peerIncarnation, Volatile.Read(ref _nextExpected));

    /// <summary>Dialer side: connect, authenticate, run, and reconnect with backoff until the node stops.</summary>
    internal async Task DialLoopAsync(System.Net.IPEndPoint address, CancellationToken stopping)
    {
        var options = _node.Options;
        TimeSpan delay = options.ReconnectMinDelay;
        while (!stopping.IsCancellationRequested)
        {
            bool ran = false;
            SetConnectionState(LinkState.Reconnecting);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            LinkConnection? connection = null;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                timeout.CancelAfter(options.HandshakeTimeout);
                await socket.ConnectAsync(address, timeout.Token).ConfigureAwait(false);
                connection = new LinkConnection(socket, stopping);
                await _gate.WaitAsync(stopping).ConfigureAwait(false);
                try
                {
                    var dialed = await Handshake.DialAsync(connection, _node.NodeId, PeerNode, _node.Incarnation, options.Key, options.Encrypt,
                        CaptureResume, timeout.Token).ConfigureAwait(false);
                    ApplyPeerResume(dialed.PeerIncarnation, dialed.PeerResume);
                    ran = true;
                    await RunAsync(connection).ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (LinkProtocolException e)
            {
                RecordRefusal(e.Fault);
                _node.RecordRefusal(e, $"link {_node.NodeId}->{PeerNode}: handshake refused: {e.Message}");
                if (connection is not null)
                    await connection.SendGoodbyeAsync(e.Fault).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // Not reachable yet, or the connection broke during the handshake: retry after the backoff.
            }
            finally
            {
                if (connection is not null)
                    await connection.DisposeAsync().ConfigureAwait(false);
                else
                    socket.Dispose();
                SetConnectionState(LinkState.Down);
            }
            // A connection refused for diverged topologies, or closed by a sink that failed, is redialed with backoff too: it
            // stays refused until a restart, and a failing sink would otherwise be handed the same frame 100 times a second.
            bool refused = SlowsRedial((LinkFault)Volatile.Read(ref _lastFault));
            delay = ran && !refused ? options.ReconnectMinDelay : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.ReconnectMaxDelay.Ticks));
            try
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Faults that are likely to repeat on the next connection, so the dialer backs off instead of redialing at once.</summary>
    internal static bool SlowsRedial(LinkFault fault) => fault is LinkFault.TopologyMismatch or LinkFault.SinkFailed;

    /// <summary>A handshake with this peer was refused (by either side): the reason is the link's last fault, so a host sees why it stays down.</summary>
    internal void RecordRefusal(LinkFault fault) => Volatile.Write(ref _lastFault, (int)fault); // a plain publish: readers want the latest reason only

    /// <summary>Acceptor: numbers a Hello from this peer (from 1) in the order Hellos come (<see cref="Handshake.AcceptAsync"/>).</summary>
    internal long OrderHello() => Interlocked.Increment(ref _hellos); // one total order over all accepting tasks

    /// <summary>Acceptor side: replace any running connection with this authenticated one, welcome it and run it.</summary>
    internal async Task RunAcceptedAsync(LinkConnection connection, Handshake.Accepted accepted, CancellationToken stopping)
    {
        // The newest connection wins: keep closing whichever one holds the link (it may still be in its own welcome when
        // this one arrives) until it lets go. Newest by Hello, not by who takes the gate first nor by whose Auth checked
        // out first: an incarnation of the peer answers its Challenge only while alive, so a restarted incarnation's Hello
        // always comes after the Hello of every handshake its dead predecessor completed, while that predecessor's Auth may
        // be held back by the network until after the newer one ran. Running the older after the newer would set the receive
        // state back to the dead incarnation, and the newer one's resend would then be applied twice. So a connection that
        // sees an authenticated handshake with a later Hello stops waiting (and closes unwelcomed), also once it holds the gate.
        long ticket = accepted.HelloOrder;
        while (true)
        {
            long newest = Volatile.Read(ref _newestHandshake); // the exchange below checks it is still the newest
            if (newest > ticket)
            {
                CloseSuperseded(accepted.PeerIncarnation); // a handshake with a later Hello authenticated first: it wins
                return;
            }
            if (Interlocked.CompareExchange(ref _newestHandshake, ticket, newest) == newest)
                break; // full fence: raised to this ticket, or a later one came meanwhile and the loop sees it
        }
        while (true)
        {
            if (ticket != Volatile.Read(ref _newestHandshake))
            {
                CloseSuperseded(accepted.PeerIncarnation); // a later handshake is waiting or running: it wins
                return;
            }
            Volatile.Read(ref _current)?.Abort(LinkFault.Replaced);
            if (!await _gate.WaitAsync(TimeSpan.FromMilliseconds(10), stopping).ConfigureAwait(false))
                continue;
            if (ticket == Volatile.Read(ref _newestHandshake))
                break;
            _gate.Release(); // a later handshake came while this one waited: it takes the link
            CloseSuperseded(accepted.PeerIncarnation);
            return;
        }
        SetConnectionState(LinkState.Reconnecting);
        try
        {
            ApplyPeerResume(accepted.PeerIncarnation, accepted.PeerResume);
            await Handshake.WelcomeAsync(connection, CaptureResume(), connection.Stopping).ConfigureAwait(false);
            await RunAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            SetConnectionState(LinkState.Down);
            _gate.Release();
        }
    }

    /// <summary>An accepted connection that a handshake with a later Hello from the same peer superseded before it ran: counted, never welcomed.</summary>
    private void CloseSuperseded(ulong peerIncarnation)
        => _node.RecordFault(LinkFault.Replaced, $"link {_node.NodeId}<->{PeerNode}: a connection (peer incarnation {peerIncarnation:x}) closed unused: a later one from that peer came while it waited");

    /// <summary>
    /// Adopts the peer's view: a peer incarnation we have no receive state for starts at its resend point; if the peer
    /// has receive state for our incarnation, what it already applied counts as acknowledged.
    /// </summary>
    private void ApplyPeerResume(ulong peerIncarnation, ResumeState peer)
    {
        if (peerIncarnation != _peerIncarnation)
        {
            _peerIncarnation = peerIncarnation;
            Volatile.Write(ref _nextExpected, peer.ResendFrom);
        }
        else if (peer.ResendFrom > Volatile.Read(ref _nextExpected))
        {
            throw new LinkProtocolException(LinkFault.SequenceGap, $"node {PeerNode} resends from {peer.ResendFrom} but {_nextExpected} is the next record expected");
        }
        if (peer.KnownPeerIncarnation == _node.Incarnation && !_window.Release(peer.NextExpected))
            throw new LinkProtocolException(LinkFault.BadAcknowledgement, $"node {PeerNode} acknowledges {peer.NextExpected} records but only {_window.Sent} were sent");
    }

    /// <summary>Runs both loops of an authenticated connection until one of them ends; records why.</summary>
    private async Task RunAsync(LinkConnection connection)
    {
        connection.Protection!.SkipTags = _node.Options.UntaggedFramesForBenchmarks; // both sides, before any frame after the handshake
        long now = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastReceived, now);
        Volatile.Write(ref _lastSent, now);
        Volatile.Write(ref _current, connection);
        Interlocked.Increment(ref _connections);
        SetConnectionState(LinkState.Connected);
        _node.Replication.OnConnected(this);
        long resendFrom = _window.Acked; // only this connection's receive loop, not started yet, moves it from here
        _window.BeginConnection(resendFrom); // this connection's acknowledgements are bounded by what it writes from here
        _node.Log($"link {_node.NodeId}<->{PeerNode}: connected, resending from {resendFrom}, expecting {_nextExpected}");
        Task send = SendLoopAsync(connection, resendFrom);
        Task receive = ReceiveLoopAsync(connection);
        Task first = await Task.WhenAny(send, receive).ConfigureAwait(false);
        connection.Abort(FaultOf(first, _node.IsStopping));
        _signal.Notify();
        try
        {
            await Task.WhenAll(send, receive).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Both loops end by exception when the connection closes; the first fault was recorded above.
        }
        Volatile.Write(ref _current, null);
        SetConnectionState(LinkState.Down);
        LinkFault fault = connection.Fault;
        Volatile.Write(ref _lastFault, (int)fault);
        // Tell the peer why, unless the connection is already gone or a newer one from that peer took over.
        bool goodbye = fault is not (LinkFault.ConnectionLost or LinkFault.Replaced);
        if (goodbye)
            await connection.SendGoodbyeAsync(fault).ConfigureAwait(false);
        _node.RecordFault(fault, $"link {_node.NodeId}<->{PeerNode}: closed ({fault}): {first.Exception?.InnerException?.Message ?? "connection ended"}");
        if (goodbye && fault != LinkFault.PeerSilent) // a silent peer will not read it, nor close: lingering would only delay the redial
            await connection.LingerAfterGoodbyeAsync(_node.StoppingToken).ConfigureAwait(false); // no reset overtakes the goodbye
    }

    /// <summary>
    /// Why a connection's loop ended. A loop the node's stop cancelled ends as a cancelled task, which carries no
    /// exception: read as "connection lost", that closed the link without a goodbye and counted the wrong reason.
    /// </summary>
    internal static LinkFault FaultOf(Task ended, bool stopping) => ended.Exception?.InnerException switch
    {
        LinkProtocolException p => p.Fault,
        _ when stopping && (ended.IsCanceled || ended.Exception?.InnerException is OperationCanceledException) => LinkFault.Shutdown,
        _ => LinkFault.ConnectionLost,
    };

    /// <summary>
    /// Called by the node's timer: heartbeat when idle, close when the peer went silent, and while a send batch is
    /// open, wake the send loop for what the batch held back (<see cref="SendBatch"/>, (4)).
    /// </summary>
    internal void OnTick(long now, long heartbeatTicks, long silenceTicks, bool batchesOpen)
    {
        var connection = Volatile.Read(ref _current);
        if (connection is null)
            return;
        if (now - Volatile.Read(ref _lastReceived) > silenceTicks)
        {
            connection.Abort(LinkFault.PeerSilent);
            _signal.Notify();
            return;
        }
        if (now - Volatile.Read(ref _lastSent) >= heartbeatTicks)
        {
            _heartbeatDue = true;
            _signal.Notify();
        }
        else if (batchesOpen)
        {
            _signal.Notify();
        }
    }

    internal void Abort(LinkFault fault)
    {
        Volatile.Read(ref _current)?.Abort(fault);
        _signal.Notify();
    }
}
