using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// One node's side of a multi-host VM: a listener for the peers with a lower node id, a dialer for each peer with a
/// higher one, one <see cref="PeerLink"/> per peer, and the sink that applies what peers forward.
/// It is the engine's <see cref="RemoteForwarder"/> (<see cref="EngineOptions.Forwarder"/>): build it, build the engine
/// with it, then <see cref="Start"/> it with a sink that delivers into that engine (<see cref="EngineSink"/>).
/// </summary>
public sealed class NodeTransport : RemoteForwarder, IAsyncDisposable
{
    private readonly PeerLink?[] _linkOfNode;
    private readonly PeerLink[] _links;
    private readonly long[] _faults = new long[Enum.GetValues<LinkFault>().Length];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private readonly int[] _nodeOfVcpu;
    private Socket? _listener;
    private Timer? _timer;
    private long _engineStopDeadline; // Stopwatch ticks; 0 while the engine runs
    private int _openBatches;          // SendBatch: batches open on any thread
    private int _pendingHandshakes;    // accepted connections not yet authenticated (AcceptLoopAsync / ServeAcceptedAsync)
    private long _logFailures;         // lines the host's Log callback threw on
    private long _rejectedHandshakes;  // handshakes ended by a goodbye that proved nothing (RejectedHandshakes)

    private RemoteDeliverySink? _sink;

    /// <summary>Creates the node's transport; nothing is opened until <see cref="Start"/>.</summary>
    public NodeTransport(TransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the wire records are the in-memory image of little-endian hosts");
        if (options.Key.Length < 16)
            throw new ArgumentException("the pre-shared key must be at least 16 bytes", nameof(options));
        if (options.MaxRecordsPerFrame is < 1 or > FrameHeader.MaxRecordsPerFrame)
            throw new ArgumentException($"MaxRecordsPerFrame must be between 1 and {FrameHeader.MaxRecordsPerFrame}", nameof(options));
        Options = options;
        NodeId = options.NodeId;
        _nodeOfVcpu = [.. options.NodeOfVcpu];
        if (options.NodeId < 0)
            throw new ArgumentException("the node id must not be negative", nameof(options));
        int maxNode = options.NodeId;
        foreach (var peer in options.Peers)
            maxNode = Math.Max(maxNode, peer.NodeId);
        _linkOfNode = new PeerLink?[maxNode + 1];
        var links = new List<PeerLink>();
        foreach (var peer in options.Peers)
        {
            if (peer.NodeId < 0 || peer.NodeId == NodeId || _linkOfNode[peer.NodeId] is not null)
                throw new ArgumentException($"peer node {peer.NodeId} is this node or listed twice", nameof(options));
            if (peer.NodeId > NodeId && peer.EndPoint is null)
                throw new ArgumentException($"peer node {peer.NodeId} needs an address: this node dials peers with a higher id", nameof(options));
            var link = new PeerLink(this, peer.NodeId, options);
            _linkOfNode[peer.NodeId] = link;
            links.Add(link);
        }
        _links = [.. links];
        int sequencer = options.NodeId;
        foreach (var peer in options.Peers)
            sequencer = Math.Min(sequencer, peer.NodeId);
        Span<byte> random = stackalloc byte[8];
        do
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(random);
            Incarnation = BitConverter.ToUInt64(random);
        }
        while (Incarnation == 0);
        Replication = new TopologyReplication(this, sequencer, maxNode + 1);
    }

    /// <summary>This node's id.</summary>
    public int NodeId { get; }

    /// <summary>A random number drawn at construction: tells peers whether this node restarted (and lost its state).</summary>
    public ulong Incarnation { get; }

    /// <summary>The address the listener is bound to (valid after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("the transport is not started"));

    /// <summary>
    /// The VM's topology writes, replicated over the links in one total order: build the engine with
    /// <see cref="EngineOptions.Replicator"/> set to it, then <see cref="Start"/> the transport.
    /// </summary>
    public TopologyReplication Replication { get; }

    /// <summary>The links, one per peer.</summary>
    internal IReadOnlyList<PeerLink> Links => _links;

    internal TransportOptions Options { get; }
    internal PeerLink[] LinkArray => _links; // enumerated without an allocation
    internal RemoteDeliverySink Sink => _sink!;
    internal int[] NodeOfVcpu => _nodeOfVcpu;
    internal bool IsStopping => _stopping.IsCancellationRequested;
    internal CancellationToken StoppingToken => _stopping.Token;

    /// <summary>The link to <paramref name="node"/>.</summary>
    internal PeerLink Link(int node) => (uint)node < (uint)_linkOfNode.Length && _linkOfNode[node] is { } link
        ? link
        : throw new ArgumentOutOfRangeException(nameof(node), node, $"node {node} is not a peer of node {NodeId}");

    /// <summary>The link to peer <paramref name="peerNode"/> now: its counters, state and time in each state (C's <c>ipi_node_link</c>). Any thread.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="peerNode"/> is not a peer of this node.</exception>
    public LinkCounters ReadLink(int peerNode) => Link(peerNode).Counters;

    /// <summary>Every link now, one per peer, by ascending peer node id (<see cref="ReadLink"/>). Any thread.</summary>
    public IReadOnlyList<LinkCounters> ReadLinks()
    {
        var links = new List<LinkCounters>(_links.Length);
        foreach (PeerLink? link in _linkOfNode) // indexed by node id: ascending
        {
            if (link is not null)
            {
                links.Add(link.Counters);
            }
        }

        return links;
    }

    /// <summary>How many connections closed or were refused for <paramref name="fault"/>.</summary>
    public long FaultCount(LinkFault fault) => Volatile.Read(ref _faults[(int)fault]);

    /// <summary>
    /// Handshakes the other side ended with a goodbye sent before it proved the key (untagged): a peer that holds another
    /// key (its reason, logged, says <see cref="LinkFault.WrongKey"/>), a frame altered on the path so that a proof
    /// failed there, or someone who is no peer. Its reason is not believed, so it is counted here and under no
    /// <see cref="FaultCount"/>: a lost connection without such a goodbye is <see cref="LinkFault.ConnectionLost"/>.
    /// </summary>
    public long RejectedHandshakes => Volatile.Read(ref _rejectedHandshakes);

    /// <summary>Opens the listener and starts dialing the peers with a higher node id; what peers forward goes to <paramref name="sink"/>.</summary>
    public void Start(RemoteDeliverySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (_sink is not null)
            throw new InvalidOperationException("the transport is already started");
        var listen = Options.Listen;
        Socket? listener = null;
        // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT too, which would let a second node bind the same
        // port silently. .NET already sets SO_REUSEADDR on Unix listeners, so a restarted node can bind its old port.
        try
        {
            listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp); // may fail too (no descriptors left)
            listener.Bind(listen);
            listener.Listen(64);
        }
        catch (SocketException)
        {
            listener?.Dispose();
            throw; // not started (nothing set): Start may be called again
        }
        _sink = sink;
        _listener = listener;
        TransportMetrics.Register(this);
        Replication.Start();
        _loops.Add(Replication.Completion);
        _loops.Add(AcceptLoopAsync(listener, _stopping.Token));
        foreach (var peer in Options.Peers)
        {
            if (peer.NodeId > NodeId)
                _loops.Add(_linkOfNode[peer.NodeId]!.DialLoopAsync(peer.EndPoint!, _stopping.Token));
        }
        long heartbeat = (long)(Options.HeartbeatInterval.TotalSeconds * Stopwatch.Frequency);
        long silence = (long)(Options.SilenceTimeout.TotalSeconds * Stopwatch.Frequency);
        var period = TimeSpan.FromTicks(Math.Max(Options.HeartbeatInterval.Ticks / 2, TimeSpan.TicksPerMillisecond));
        _timer = new Timer(_ =>
        {
            long now = Stopwatch.GetTimestamp();
            bool batches = Volatile.Read(ref _openBatches) != 0; // a plain look: a tick late is the backstop's whole promise (SendBatch, (4))
            foreach (var link in _links)
                link.OnTick(now, heartbeat, silence, batches);
            Replication.OnTick(now, heartbeat);
        }, null, period, period);
    }

    /// <summary>
    /// Hands <paramref name="batch"/> (all for vCPUs on <paramref name="node"/>) to that peer's own queue and returns how
    /// many records were refused (see <see cref="PeerLink.Forward"/>). One calling thread per link (the deliver thread).
    /// </summary>
    public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch) => Link(node).Forward(batch);

    /// <inheritdoc/>
    /// <remarks>
    /// Any peer's, not only <paramref name="node"/>'s: with inline socket completions (<c>ipi run --nodes</c> sets
    /// them) every link's receive loop may run on one event thread, so a loop that waited here could keep another link's
    /// loop from reading the acknowledgements the pipeline waits for. Never throws (an unknown node too): it is asked on
    /// a sink's path, where a throw would read as nothing applied.
    /// </remarks>
    internal override bool MayWaitForRoom(int node)
    {
        foreach (PeerLink link in _links)
        {
            if (link.ForwardWaitsForRoom)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Opens a send batch on the calling thread: until it is disposed, the records this thread forwards and the
    /// acknowledgements of what arrives wait for its <see cref="SendBatch.Flush"/>, which sends them on the calling
    /// thread instead of waking each link's send loop (<see cref="SendBatch"/> says when that pays and why nothing is
    /// lost). One batch per thread at a time.
    /// </summary>
    /// <exception cref="InvalidOperationException">A batch is already open on this thread.</exception>
    public SendBatch BeginSendBatch() => SendBatch.Open(this);

    /// <summary>Batches open on any thread (<see cref="SendBatch"/>, (2)): acknowledgements wait for a flush while positive.</summary>
    internal bool BatchesOpen
    {
        get
        {
            if (Volatile.Read(ref _openBatches) == 0)
                return false; // the caller wakes its send loop: always safe, and the case of every transport without batches
            Interlocked.MemoryBarrier(); // the caller's publish of what it applied comes before the read that decides (SendBatch remarks)
            return Volatile.Read(ref _openBatches) != 0;
        }
    }

    /// <summary>Whether a forward on the calling thread waits for its batch's flush (<see cref="SendBatch"/>, (1)).</summary>
    internal bool DefersForwards => Volatile.Read(ref _openBatches) != 0 && SendBatch.Defers(this); // a plain look first: no thread-static read without batches

    internal void OpenBatch() => Interlocked.Increment(ref _openBatches); // full fence; a late view only wakes a send loop once more

    internal void CloseBatch() => Interlocked.Decrement(ref _openBatches); // full fence: before the closing flush reads what was applied

    /// <summary>Each link sends what is due on this thread if its send loop is parked, or wakes the loop (<see cref="SendBatch"/>, (3)).</summary>
    internal void FlushLinks()
    {
        foreach (var link in _links)
            link.SendNow();
    }

    /// <summary>From now on a forward waits for a full queue at most <see cref="TransportOptions.StopGrace"/> more.</summary>
    public override void OnEngineStopping()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(Options.StopGrace.TotalSeconds * Stopwatch.Frequency);
        // First call wins: a second stop must not extend the grace.
        Interlocked.CompareExchange(ref _engineStopDeadline, deadline, 0);
    }

    /// <summary>Whether a forward waiting for room must give up: the node stops, or the engine's stop grace ran out.</summary>
    internal bool GiveUpWaiting(long now)
    {
        long deadline = Volatile.Read(ref _engineStopDeadline);
        return IsStopping || (deadline != 0 && now > deadline);
    }

    /// <summary>Waits until every link's forwarded records are acknowledged, or the timeout passes; true if drained.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            bool drained = true;
            foreach (var link in _links)
                drained &= link.IsDrained;
            if (drained)
                return true;
            if (Stopwatch.GetTimestamp() > deadline)
                return false;
            await Task.Delay(1).ConfigureAwait(false);
        }
    }

    /// <summary>Stops: tells connected peers goodbye, closes every connection and the listener.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        TransportMetrics.Unregister(this);
        foreach (var link in _links)
            link.Abort(LinkFault.Shutdown);
        _listener?.Dispose();
        if (_timer is not null)
            await _timer.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected: the loops end by cancellation.
        }
        foreach (var link in _links)
            link.Dispose();
        _stopping.Dispose();
    }

    internal void Log(string message)
    {
        try
        {
            Options.Log?.Invoke(message);
        }
        catch (Exception)
        {
            // The host's logger failed: one line lost, never a link (a throw here left a link marked connected that had
            // stopped, ended its redial loop, and made the transport's dispose throw).
            Interlocked.Increment(ref _logFailures);
        }
    }

    /// <summary>Lines <see cref="TransportOptions.Log"/> threw on (swallowed; tests).</summary>
    internal long LogFailures => Interlocked.Read(ref _logFailures);

    internal void RecordFault(LinkFault fault, string message)
    {
        Interlocked.Increment(ref _faults[(int)fault]);
        Log(message);
    }

    /// <summary>Counts a refused handshake under its fault, or as rejected when the refusal proved nothing (<see cref="RejectedHandshakes"/>).</summary>
    internal void RecordRefusal(LinkProtocolException refusal, string message)
    {
        if (refusal.Unauthenticated)
        {
            Interlocked.Increment(ref _rejectedHandshakes);
            Log(message);
        }
        else
        {
            RecordFault(refusal.Fault, message);
        }
    }

    /// <summary>The pause after a failed accept before the next (a full descriptor table would otherwise spin the loop).</summary>
    internal static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Whether an accept that threw <paramref name="failure"/> ends the accept loop: only when the node is stopping or
    /// its listener is gone; a socket error (EMFILE, ENOBUFS, a connection reset before it was taken) does not.
    /// </summary>
    internal static bool AcceptFailureEndsListening(Exception failure, bool stopping)
        => stopping || failure is OperationCanceledException or ObjectDisposedException;

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        var running = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (AcceptFailureEndsListening(e, stopping.IsCancellationRequested))
                {
                    break;
                }

                // Out of descriptors or buffers, an aborted connection: the listener is still bound, so peers keep
                // connecting into its backlog. Ending the loop here cut every lower-id peer off for good.
                Log($"node {NodeId}: accepting a connection failed ({e.Message}); listening on");
                try
                {
                    await Task.Delay(AcceptRetryDelay, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }
            running.RemoveAll(t => t.IsCompleted);
            if (Volatile.Read(ref _pendingHandshakes) >= Options.PendingHandshakeLimit) // only this loop increments, so the check holds until it does
            {
                // A flood of connections that never authenticate: each would hold a receive segment (256 KiB, kept by
                // the pool for good) until its handshake timed out. Closed unheard, before any buffer is rented.
                RecordFault(LinkFault.TooManyHandshakes, $"node {NodeId}: closed a connection from {socket.RemoteEndPoint?.ToString() ?? "?"} unheard: {Options.PendingHandshakeLimit} others are still authenticating");
                socket.Dispose();
                continue;
            }
            Interlocked.Increment(ref _pendingHandshakes); // the serving task decrements it once the handshake ended either way
            running.Add(ServeAcceptedAsync(socket, stopping));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>One accepted connection: authenticate, then hand it to the peer's link. Never throws.</summary>
    private async Task ServeAcceptedAsync(Socket socket, CancellationToken stopping)
    {
        int pending = 1; // this connection's share of _pendingHandshakes, given back once, whatever happens below
        LinkConnection? connection = null;
        string remote = "?";
        try
        {
            remote = socket.RemoteEndPoint?.ToString() ?? "?"; // inside: a connection reset before it was served throws here
            connection = new LinkConnection(socket, stopping);
            Handshake.Accepted accepted;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                timeout.CancelAfter(Options.HandshakeTimeout);
                try
                {
                    accepted = await Handshake.AcceptAsync(connection, NodeId, Incarnation, Options.Key, Options.Encrypt,
                        node => node >= 0 && node < NodeId && node < _linkOfNode.Length && _linkOfNode[node] is { } link ? link.OrderHello() : 0,
                        timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    throw new LinkProtocolException(LinkFault.HandshakeTimeout, $"no complete handshake from {remote} within {Options.HandshakeTimeout.TotalSeconds:0.#} s");
                }
            }
            Interlocked.Decrement(ref _pendingHandshakes); // authenticated: no longer pending
            pending = 0;
            await _linkOfNode[accepted.PeerNode]!.RunAcceptedAsync(connection, accepted, stopping).ConfigureAwait(false);
        }
        catch (LinkProtocolException e)
        {
            RecordRefusal(e, $"node {NodeId}: refused connection from {remote}: {e.Message}");
            if (e.PeerNode >= 0)
                _linkOfNode[e.PeerNode]!.RecordRefusal(e.Fault); // set only once the dialer was checked to be a peer that dials here
            await connection!.SendGoodbyeAsync(e.Fault).ConfigureAwait(false); // thrown only once the connection was made
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Peer vanished mid-handshake or the node is stopping: the dialer retries.
        }
        finally
        {
            Interlocked.Add(ref _pendingHandshakes, -pending); // refused, timed out or vanished before authenticating
            if (connection is not null)
                await connection.DisposeAsync().ConfigureAwait(false);
            else
                socket.Dispose();
        }
    }

    /// <summary>Accepted connections still authenticating (tests).</summary>
    internal int PendingHandshakes => Volatile.Read(ref _pendingHandshakes);
}
