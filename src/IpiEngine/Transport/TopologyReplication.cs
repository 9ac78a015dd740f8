using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace IpiEngine.Transport;

/// <summary>
/// Replicates the VM's topology writes over the node's links, in one total order, synchronously for the writer
/// (protocol, and why it is a total order and exactly-once, in <c>docs/wire-format.md</c>, "Topology replication").
/// The lowest node id of the VM is the <b>sequencer</b>: every node sends its vCPUs' writes to it (Request), it numbers
/// them 0, 1, 2 ... and sends each (Commit) to every node; every node applies the commits strictly by number on one
/// applier thread, reports its epoch (writes applied) and digest (State), and the sequencer tells the writing node once
/// every node applied its write (Done). Resends after a reconnect are idempotent: a Commit is applied once per number,
/// a Request once per request id, and a caller's retry of a write that failed reuses its request id, so it is not
/// ordered twice ("A caller's retry" there). A sequencer starts by recovering the VM's order from every node (Replay; in
/// <c>TopologyReplication.Recovery.cs</c>), so a restarted one rejoins. The engine built with
/// <see cref="EngineOptions.Replicator"/> = this object posts through it; the transport's <see cref="NodeTransport.Start"/>
/// starts the applier.
/// </summary>
public sealed partial class TopologyReplication : TopologyReplicator
{
    private readonly NodeTransport _node;
    private readonly int _self;
    private readonly object _lock = new(); // guards everything below; Monitor.Wait/PulseAll on it wakes writers and the applier
    private readonly SortedDictionary<long, TopologyMessage> _pending = [];   // commits received, not yet taken by the applier
    private readonly List<ulong> _digests = [];                               // [e]: digest after the first e writes applied here
    private readonly List<TopologyMessage> _applied = [];                     // the commits applied here, in order (replayed to a restarted sequencer)
    private readonly long[] _failures = new long[Enum.GetValues<TopologyWriteFailure>().Length];
    private long _failedButApplied;
    private readonly bool[] _checked;                                         // by node id: its State on this connection matched

    // Sequencer only (all under _lock).
    private readonly List<TopologyMessage> _ordered = [];                      // every commit, by index
    private readonly long[] _peerEpoch;                                        // by node id: writes it reported applied
    private readonly bool[] _resendOnState;                                    // by node id: a new connection awaits its State
    private readonly Dictionary<(int Origin, int Vcpu), (ulong RequestId, long Index)> _lastRequest = []; // per vCPU: a retry may come after another vCPU's write
    private readonly Queue<TopologyMessage> _unconfirmed = new();              // commits not yet applied everywhere, by index
    private readonly List<(int Origin, ulong RequestId, long Index)> _doneOwed = []; // resent requests whose Done waits for a node behind again
    private ulong _orderDigest;

    // Writer and applier state (under _lock).
    private ulong _nextRequestId;
    private TopologyMessage? _outstanding;                                     // this node's write in flight (one at a time)
    private bool _outstandingDone;
    private long _outstandingIndex = -1;                                       // its index once this node knows it is ordered (not once applied)
    private readonly Dictionary<int, (TopologyMessage Request, long Index)> _unsettled = []; // by vCPU: its last write whose writer gave up after sending it, and its index once known here
    private readonly Dictionary<ulong, (int Vcpu, int Failures, ulong IdsGiven)> _failedNotApplied = []; // by request id: failed calls whose write may still be applied here; the ids given before its last send
    private long _nextToApply;
    private TopologyMessage? _applying;                                        // the commit the applier took and is applying (held, not yet applied)
    private long _epoch;
    private long _catchUpTarget = -1;                                          // the epoch that makes this incarnation caught up (-1: not known yet)
    private long _nextAnnouncement;
    private Engine? _engine;
    private Task? _applier;

    internal TopologyReplication(NodeTransport node, int sequencer, int nodeCount)
    {
        _node = node;
        _self = node.NodeId;
        Sequencer = sequencer;
        _peerEpoch = new long[nodeCount];
        _resendOnState = new bool[nodeCount];
        _checked = new bool[nodeCount];
        _heard = new bool[nodeCount];
        _peerHeld = new long[nodeCount];
        _recovering = IsSequencer; // a sequencer starts with an empty log: it orders nothing before it heard every node
        _nextRequestId = node.Incarnation; // random per incarnation: a restarted node never reuses a request id
    }

    /// <summary>The node that orders the VM's topology writes: the lowest node id.</summary>
    public int Sequencer { get; }

    /// <summary>True on the sequencer.</summary>
    public bool IsSequencer => Sequencer == _self;

    /// <summary>The topology epoch: how many of the VM's topology writes this node applied.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>The topology digest at <see cref="Epoch"/> (the initial topology's digest chained with every write applied).</summary>
    public ulong Digest => Position().Digest;

    /// <summary>
    /// <see cref="Epoch"/> and <see cref="Digest"/> read together, under the lock that advances both (read one after the
    /// other, a write applied in between pairs an epoch with the next write's digest). To report the engine's counters
    /// beside them, read this first: the engine counts a write before its epoch advances here, so counters read after
    /// this count at least <c>Epoch</c> writes.
    /// </summary>
    internal (long Epoch, ulong Digest) Position()
    {
        lock (_lock)
            return (_epoch, _digests.Count == 0 ? 0 : _digests[^1]);
    }

    /// <summary>
    /// Waits until this incarnation of the node has caught up with the VM's topology: it applied every write the
    /// sequencer's order held when it first told this node, on this node's current link to it, once the sequencer has an
    /// order (a restarted one recovering has none yet; on the sequencer: its recovery of the VM's order is over and it
    /// applied the recovered order). Until then a restarted node resolves IPIs with the topology it has
    /// applied so far, from the initial one on; an embedder that must not do so waits here before it runs its vCPUs.
    /// Once caught up it stays so (later writes are applied as they come). False when <paramref name="timeout"/> passes
    /// first (the sequencer is unreachable or still recovering) or the node stops.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The transport is not started or serves no engine.</exception>
    public bool WaitCaughtUp(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        if (Volatile.Read(ref _applier) is null)
            throw new InvalidOperationException($"node {_self}: the transport is not started or serves no engine; it replicates no topology.");
        long deadline = Stopwatch.GetTimestamp() + (long)Math.Min(timeout.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2);
        lock (_lock)
        {
            while (!CaughtUp)
            {
                if (!WaitUntil(deadline, _node.StoppingToken))
                    return CaughtUp;
            }
            return true;
        }
    }

    /// <summary>Under the lock: see <see cref="WaitCaughtUp"/>.</summary>
    private bool CaughtUp => _catchUpTarget >= 0 && _epoch >= _catchUpTarget;

    /// <summary>The writes applied on this node, in the VM's order (a copy).</summary>
    internal TopologyMessage[] AppliedWrites()
    {
        lock (_lock)
            return [.. _applied];
    }

    /// <summary>Writes applied, writes held (applied, or taken by the applier), and commits received that wait for the applier.</summary>
    internal (long Epoch, long Held, int Waiting) Progress()
    {
        lock (_lock)
            return (_epoch, Held, _pending.Count);
    }

    /// <summary>How many posting calls of topology writes on this node failed for <paramref name="failure"/> (a retry that fails again counts again).</summary>
    public long FailureCount(TopologyWriteFailure failure) => Volatile.Read(ref _failures[(int)failure]);

    /// <summary>
    /// Of the failed calls counted in <see cref="FailureCount"/> (all reasons), those whose write is applied on this node
    /// anyway, before its call failed (<see cref="TopologyWriteFailure.NotConfirmed"/>) or after (a write that reached the
    /// sequencer): the engine's <see cref="EngineCounters.Posted"/> counts such a write too, once. The sum of
    /// <see cref="FailureCount"/> minus this is the failed calls whose write this node has not applied (yet).
    /// </summary>
    public long FailedButApplied => Volatile.Read(ref _failedButApplied);

    /// <summary>Tests: the failed writes (one per request id, however many calls failed) not known yet to be applied here or never.</summary>
    internal int FailedWritesAwaitingOutcome
    {
        get
        {
            lock (_lock)
                return _failedNotApplied.Count;
        }
    }

    /// <summary>Chains one write into a digest: the first 8 bytes of SHA-256(previous ‖ vCPU ‖ register ‖ value), little-endian.</summary>
    internal static ulong Chain(ulong previous, int vcpu, ushort register, ulong value)
    {
        Span<byte> input = stackalloc byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(input, previous);
        BinaryPrimitives.WriteInt32LittleEndian(input[8..], vcpu);
        BinaryPrimitives.WriteUInt32LittleEndian(input[12..], register);
        BinaryPrimitives.WriteUInt64LittleEndian(input[16..], value);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return BinaryPrimitives.ReadUInt64LittleEndian(hash);
    }

    /// <inheritdoc/>
    internal override void Attach(Engine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        lock (_lock)
        {
            if (_engine is not null)
                throw new InvalidOperationException($"node {_self}: this topology replication already serves engine '{_engine.Options.Name}'.");
            if (engine.VcpuCount != _node.NodeOfVcpu.Length)
                throw new InvalidOperationException($"node {_self}: the engine has {engine.VcpuCount} vCPUs but the transport places {_node.NodeOfVcpu.Length}.");
            ulong initial = engine.Resolver.TopologyDigest();
            _digests.Add(initial);
            _orderDigest = initial;
            _engine = engine;
        }
    }

    /// <inheritdoc/>
    internal override void Replicate(int vcpu, ushort apicRegister, ulong value)
    {
        if (Volatile.Read(ref _applier) is null)
            throw new InvalidOperationException($"node {_self}: the transport is not started; topology writes are replicated through it.");
        CancellationToken stopping = _node.StoppingToken;
        TimeSpan timeout = _node.Options.TopologyWriteTimeout;
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_lock)
        {
            while (_outstanding is not null) // one write of this node at a time
            {
                if (!WaitUntil(deadline, stopping))
                {
                    throw stopping.IsCancellationRequested
                        ? Fail(TopologyWriteFailure.Stopped, $"node {_self} stopped before {Describe(vcpu, apicRegister, value)} was sent.")
                        : Fail(TopologyWriteFailure.NotOrdered, $"node {_self}: {Describe(vcpu, apicRegister, value)} waited {timeout.TotalSeconds:0.###} s behind another write of this node that did not finish; it was not sent.");
                }
            }
            // The same write again after its writer gave up is that write, not a new one: it keeps its request id, which
            // the sequencer orders at most once (it may have ordered it already), so a retry never applies it twice.
            bool retry = _unsettled.Remove(vcpu, out var failed) && failed.Request.Register == apicRegister && failed.Request.Value == value;
            var request = retry ? failed.Request : new TopologyMessage(TopologyMessageType.Request, _self, vcpu, apicRegister, value, _nextRequestId++, 0, 0);
            _outstanding = request;
            _outstandingIndex = retry ? failed.Index : -1;
            _outstandingDone = false;
            if (IsSequencer)
                Order(request);
            else
                _node.Link(Sequencer).SendTopology(request);
            while (!_outstandingDone && WaitUntil(deadline, stopping))
            {
                // Woken by Done, by the stop, or by another write's progress: check again.
            }
            bool done = _outstandingDone;
            long index = _outstandingIndex;
            _outstanding = null;
            Monitor.PulseAll(_lock); // the next writer of this node may go
            if (done)
                return;
            _unsettled[vcpu] = (request, index); // it may still be applied: the vCPU's next write, if the same, is answered with its outcome
            CountFailedCall(request, index);
            if (stopping.IsCancellationRequested)
                throw Fail(TopologyWriteFailure.Stopped, $"node {_self} stopped while {Describe(vcpu, apicRegister, value)} was replicated; other nodes may have applied it.");
            if (index < 0)
            {
                throw Fail(TopologyWriteFailure.NotOrdered, $"node {_self}: {Describe(vcpu, apicRegister, value)} was not ordered by the sequencer, node {Sequencer}, within "
                    + $"{timeout.TotalSeconds:0.###} s{LinksDown()}{RecoveryState()}; it may still be applied on every node once the link returns.{RetryHint(vcpu)}");
            }
            if (index >= Held)
            {
                // Ordered, but its commit only waits here behind a write still being applied: not held, so a sequencer that
                // restarts before this node takes it recovers an order without it. "Applied here" would be a promise that
                // recovery does not keep (review of 2026-12-07).
                throw Fail(TopologyWriteFailure.NotOrdered, $"node {_self}: {Describe(vcpu, apicRegister, value)} was ordered as topology write #{index} of the VM, but its "
                    + $"commit still waited here, not taken{(Held > 0 ? $" (behind write #{Held - 1})" : "")}, when {timeout.TotalSeconds:0.###} s ran out{LinksDown()}; it is "
                    + $"applied on every node in that order unless the sequencer restarts before any node takes it, and then on none.{RetryHint(vcpu)}");
            }
            throw Fail(TopologyWriteFailure.NotConfirmed, $"node {_self}: {Describe(vcpu, apicRegister, value)} is topology write #{index} of the VM, applied here in order, but "
                + $"{Unconfirmed(index)} did not confirm it within {timeout.TotalSeconds:0.###} s; it is applied there once the links return.{RetryHint(vcpu)}");
        }
    }

    /// <summary>
    /// Under the lock: a call that sent <paramref name="request"/> failed; it counts in <see cref="FailedButApplied"/> now
    /// if its write is applied here, else once it is. One entry per write, not per call: a retry is sent with the failed
    /// write's request id (<see cref="Replicate"/>), so retrying through a long outage only counts up its entry.
    /// </summary>
    private void CountFailedCall(in TopologyMessage request, long index)
    {
        if (index >= 0 && index < _applied.Count)
        {
            Volatile.Write(ref _failedButApplied, _failedButApplied + 1); // release: a plain counter, written only under the lock
            return;
        }
        int failures = _failedNotApplied.TryGetValue(request.RequestId, out var earlier) ? earlier.Failures : 0;
        _failedNotApplied[request.RequestId] = (request.Vcpu, failures + 1, _nextRequestId);
    }

    /// <summary>
    /// Under the lock: this incarnation's write <paramref name="commit"/> was applied here. Its failed calls count as
    /// applied; a failed write sent before this one was created that is not applied by now never will be (a node's
    /// requests are ordered in the order sent), unless a retry may still send it again.
    /// </summary>
    private void SettleFailedCalls(in TopologyMessage commit)
    {
        if (_failedNotApplied.Count == 0)
            return;
        if (_failedNotApplied.Remove(commit.RequestId, out var failed))
            Volatile.Write(ref _failedButApplied, _failedButApplied + failed.Failures); // release: a plain counter, written only under the lock
        foreach (var (requestId, entry) in _failedNotApplied) // removing while enumerating a Dictionary is allowed
        {
            bool retryable = (_unsettled.TryGetValue(entry.Vcpu, out var last) && last.Request.RequestId == requestId) || _outstanding?.RequestId == requestId;
            if (!retryable && commit.RequestId - _node.Incarnation >= entry.IdsGiven - _node.Incarnation) // unsigned from the incarnation, as in TakeNext
                _failedNotApplied.Remove(requestId);
        }
    }

    /// <summary>The end of every failure of a write that was sent: how to learn its outcome without applying it twice.</summary>
    private static string RetryHint(int vcpu) => $" Posting the same write as vCPU {vcpu}'s next topology write waits for this one's outcome; it is never applied twice.";

    private static string Describe(int vcpu, ushort apicRegister, ulong value)
        => $"the topology write of vCPU {vcpu} (register 0x{apicRegister:x} = 0x{value:x})";

    /// <summary>Under the lock: waits for a pulse; false once the deadline passed or the node stops.</summary>
    private bool WaitUntil(long deadline, CancellationToken stopping)
    {
        long left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0 || stopping.IsCancellationRequested)
            return false;
        Monitor.Wait(_lock, TimeSpan.FromSeconds(Math.Min((double)left / Stopwatch.Frequency, 0.1))); // bounded: sees the stop within 100 ms
        return !stopping.IsCancellationRequested;
    }

    /// <summary>Starts the applier (only when an engine is attached: a transport without one replicates nothing).</summary>
    internal void Start()
    {
        if (_engine is null)
            return;
        lock (_lock)
            TryFinishRecovery(); // a VM of one node has nobody to hear from
        Volatile.Write(ref _applier, Task.Factory.StartNew(ApplyLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
    }

    /// <summary>The applier, to await when the node stops (completed when none was started).</summary>
    internal Task Completion => Volatile.Read(ref _applier) ?? Task.CompletedTask;

    /// <summary>
    /// A link to <paramref name="link"/>'s peer is up, before its loops run: drop what the previous connection left
    /// queued (everything needed is regenerated here), announce this node's State first (nothing else from a peer is
    /// accepted before its State matched; the sequencer then resends every commit from the peer's epoch on), and
    /// resend this node's outstanding request to the sequencer. A new connection to the sequencer also drops the
    /// commits received and not yet taken by the applier: the sequencer resends them from the epoch, and if it
    /// restarted they may not be in the order it recovers (no node applied them), so applying them could diverge.
    /// </summary>
    internal void OnConnected(PeerLink link)
    {
        if (_engine is null)
            return;
        lock (_lock)
        {
            link.ClearTopology();
            _checked[link.PeerNode] = false;
            if (IsSequencer)
                _resendOnState[link.PeerNode] = true;
            else if (link.PeerNode == Sequencer)
            {
                if (!CaughtUp)
                    _catchUpTarget = -1; // set by the sequencer's first State on this connection (one that restarted may have fewer writes)
                _pending.Clear();
                if (_outstandingIndex >= Held)
                    _outstandingIndex = -1; // its commit went with them: not ordered as far as this node knows (resent below)
                foreach (var (vcpu, failed) in _unsettled.Where(u => u.Value.Index >= Held).ToArray())
                    _unsettled[vcpu] = failed with { Index = -1 }; // likewise for a write that failed: the resend from the epoch brings it back
            }
            link.SendTopology(State());
            if (link.PeerNode == Sequencer && _outstanding is { } request)
                link.SendTopology(request);
        }
    }

    /// <summary>The node's timer: every heartbeat interval, each connected peer gets this node's epoch and digest.</summary>
    internal void OnTick(long now, long intervalTicks)
    {
        if (Volatile.Read(ref _applier) is null || now < _nextAnnouncement)
            return;
        _nextAnnouncement = now + intervalTicks; // only the timer callback touches it
        lock (_lock)
        {
            var state = State();
            foreach (var link in _node.LinkArray)
            {
                if (link.IsConnected)
                    link.SendTopology(state);
            }
        }
    }

    /// <summary>A topology frame from <paramref name="peer"/> (its receive loop). Violations throw and close the link.</summary>
    internal void Receive(int peer, ReadOnlySpan<byte> payload)
    {
        var message = TopologyMessage.Read(payload, _node.NodeOfVcpu.Length, _peerEpoch.Length);
        if (Volatile.Read(ref _applier) is null)
            throw new LinkProtocolException(LinkFault.UnexpectedFrame, $"node {_self} replicates no topology (no engine is attached to its transport)");
        lock (_lock)
        {
            if (message.Type != TopologyMessageType.State && !_checked[peer])
                throw new LinkProtocolException(LinkFault.UnexpectedFrame, $"topology {message.Type} from node {peer} before its State");
            switch (message.Type)
            {
                case TopologyMessageType.Request when IsSequencer && message.Origin == peer:
                    Order(message);
                    break;
                case TopologyMessageType.Commit when peer == Sequencer:
                    Accept(message);
                    break;
                case TopologyMessageType.Done when peer == Sequencer && message.Origin == _self:
                    Confirmed(message.RequestId);
                    break;
                case TopologyMessageType.Replay when IsSequencer:
                    Recover(peer, message);
                    break;
                case TopologyMessageType.State:
                    bool first = !_checked[peer];
                    Compare(peer, message.Index, message.Digest);
                    _checked[peer] = true;
                    if (IsSequencer)
                        OnPeerState(peer, message.Index, (long)message.Value);
                    else if (peer == Sequencer)
                    {
                        if (first)
                            ReplayTo(_node.Link(peer), message.Index);
                        if (_catchUpTarget < 0 && message.RequestId > 0)
                        {
                            // The writes the sequencer's order held: not sent while it recovers (it has no order yet).
                            _catchUpTarget = (long)message.RequestId - 1;
                            Monitor.PulseAll(_lock); // a node that already holds that many is caught up now
                        }
                    }
                    break;
                default:
                    throw new LinkProtocolException(LinkFault.UnexpectedFrame,
                        $"topology {message.Type} from node {peer} (origin {message.Origin}), but node {Sequencer} is the sequencer");
            }
        }
    }

    /// <summary>Sequencer, under the lock: gives a new request the next index and sends the commit to every node; a resent request is answered, not ordered again.</summary>
    private void Order(in TopologyMessage request)
    {
        if (_recovering)
        {
            Hold(request);
            return;
        }
        if (_lastRequest.TryGetValue((request.Origin, request.Vcpu), out var last) && last.RequestId == request.RequestId)
        {
            if (AppliedEverywhere(last.Index))
                SendDone(request.Origin, request.RequestId, last.Index);
            else if (!_doneOwed.Contains((request.Origin, request.RequestId, last.Index)))
                _doneOwed.Add((request.Origin, request.RequestId, last.Index)); // a node that restarted is behind again: Confirm sends it
            return;
        }
        long index = _ordered.Count;
        _orderDigest = Chain(_orderDigest, request.Vcpu, request.Register, request.Value);
        var commit = request with { Type = TopologyMessageType.Commit, Index = index, Digest = _orderDigest };
        _ordered.Add(commit);
        _lastRequest[(request.Origin, request.Vcpu)] = (request.RequestId, index);
        _unconfirmed.Enqueue(commit);
        Accept(commit);
        foreach (var link in _node.LinkArray)
            link.SendTopology(commit);
    }

    /// <summary>
    /// Under the lock: queues a commit for the applier unless it was taken already (a resend). This node's own write is
    /// ordered from here on, whether or not the applier got to it yet: a slow applier never makes an ordered write look unordered.
    /// </summary>
    private void Accept(in TopologyMessage commit)
    {
        if (commit.Origin == _self && _outstanding?.RequestId == commit.RequestId)
            _outstandingIndex = commit.Index;
        else if (commit.Origin == _self && _unsettled.TryGetValue(commit.Vcpu, out var failed) && failed.Request.RequestId == commit.RequestId)
            _unsettled[commit.Vcpu] = failed with { Index = commit.Index }; // a retry of it starts from what this node knows
        if (commit.Index >= _nextToApply && _pending.TryAdd(commit.Index, commit))
            Monitor.PulseAll(_lock);
    }

    /// <summary>Sequencer, under the lock: a peer's epoch and writes held; after a reconnect, resend every commit from its epoch (once recovered).</summary>
    private void OnPeerState(int peer, long epoch, long held)
    {
        _peerEpoch[peer] = epoch;
        _peerHeld[peer] = held;
        _heard[peer] = true;
        if (_recovering)
        {
            TryFinishRecovery(); // which resends to the peers behind once it is done
            return;
        }
        if (_resendOnState[peer])
        {
            _resendOnState[peer] = false;
            var link = _node.Link(peer);
            for (long i = epoch; i < _ordered.Count; i++)
                link.SendTopology(_ordered[(int)i]);
        }
        Confirm();
    }

    /// <summary>Under the lock: a peer's digest at an epoch must equal this node's (or the sequencer's order) at that epoch.</summary>
    private void Compare(int peer, long epoch, ulong digest)
    {
        ulong? mine = null;
        if (epoch < _digests.Count)
        {
            mine = _digests[(int)epoch];
        }
        else if (IsSequencer)
        {
            if (epoch > _ordered.Count)
            {
                if (_recovering)
                    return; // the peer replays the writes this log lacks; each replay is checked against the digest chain
                throw new LinkProtocolException(LinkFault.TopologyMismatch, $"node {peer} applied {epoch} topology writes but this sequencer's order, "
                    + $"recovered from every node, holds only {_ordered.Count}: the order lost writes that node applied");
            }
            mine = _ordered[(int)epoch - 1].Digest;
        }
        if (mine is { } expected && expected != digest)
        {
            throw new LinkProtocolException(LinkFault.TopologyMismatch,
                $"node {peer} has topology digest {digest:x16} at epoch {epoch}, this node {expected:x16}: the topologies diverged");
        }
    }

    /// <summary>Sequencer, under the lock: answers every write, in order, that every node has applied.</summary>
    private void Confirm()
    {
        while (_unconfirmed.TryPeek(out var commit) && AppliedEverywhere(commit.Index))
        {
            _unconfirmed.Dequeue();
            SendDone(commit.Origin, commit.RequestId, commit.Index);
        }
        // A Done already sent once may have been lost with its connection; the writer's resent request found a node
        // that had restarted since (its epoch back below the write), so it is owed here until that node catches up.
        for (int i = _doneOwed.Count - 1; i >= 0; i--)
        {
            var (origin, requestId, index) = _doneOwed[i];
            if (!AppliedEverywhere(index))
                continue;
            _doneOwed.RemoveAt(i);
            SendDone(origin, requestId, index);
        }
    }

    private bool AppliedEverywhere(long index)
    {
        if (_epoch <= index)
            return false;
        foreach (var link in _node.LinkArray)
        {
            if (_peerEpoch[link.PeerNode] <= index)
                return false;
        }
        return true;
    }

    private void SendDone(int origin, ulong requestId, long index)
    {
        if (origin != _self)
            _node.Link(origin).SendTopology(new TopologyMessage(TopologyMessageType.Done, origin, 0, 0, 0, requestId, index, 0));
        else
            Confirmed(requestId);
    }

    /// <summary>Under the lock: this node's write <paramref name="requestId"/> is applied everywhere; its writer returns.</summary>
    private void Confirmed(ulong requestId)
    {
        if (_outstanding?.RequestId == requestId)
        {
            _outstandingDone = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Under the lock: this node's State; its value is the writes held (applied, or taken by the applier), which a restarted sequencer must recover.</summary>
    /// <summary>
    /// This node's State. The sequencer's also carries, in the request id, the writes its order holds plus one, or 0
    /// while it recovers: what a node that catches up must apply (<see cref="WaitCaughtUp"/>).
    /// </summary>
    private TopologyMessage State()
        => new(TopologyMessageType.State, _self, 0, 0, (ulong)Held, IsSequencer && !_recovering ? (ulong)_ordered.Count + 1 : 0, _epoch, _digests[^1]);

    private long Held => _applied.Count + (_applying is null ? 0 : 1);

    /// <summary>The applier: applies commits strictly by index, each with the engine's local ordering guarantee.</summary>
    private void ApplyLoop()
    {
        var engine = _engine!;
        CancellationToken stopping = _node.StoppingToken;
        try
        {
            while (TakeNext(stopping, out bool fromPeer) is { } commit)
            {
                // Outside the lock: the engine waits here until everything posted before resolved.
                engine.ApplyReplicatedTopologyWrite(commit.Vcpu, commit.Register, commit.Value, fromPeer);
                if (!Applied(commit, fromPeer))
                    return;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            _node.Log($"node {_self}: topology replication stopped applying: {e.Message}");
        }
    }

    /// <summary>
    /// Waits for the commit numbered next; null once the node stops. <paramref name="fromPeer"/>: not posted by this
    /// incarnation of the node (another node's write, or this node's from before a restart, replayed to it).
    /// </summary>
    private TopologyMessage? TakeNext(CancellationToken stopping, out bool fromPeer)
    {
        lock (_lock)
        {
            TopologyMessage commit;
            while (!_pending.Remove(_nextToApply, out commit))
            {
                fromPeer = true;
                if (stopping.IsCancellationRequested)
                    return null;
                Monitor.Wait(_lock, TimeSpan.FromMilliseconds(100)); // bounded: sees the stop within 100 ms
            }
            _nextToApply++;
            _applying = commit;
            // This incarnation's request ids run from its incarnation up to the next one it will give (unsigned, so a wrap is fine).
            fromPeer = commit.Origin != _self || commit.RequestId - _node.Incarnation >= _nextRequestId - _node.Incarnation;
            return commit;
        }
    }

    /// <summary>Records an applied commit; false (and the link to the sequencer closed) when it did not reproduce the sequencer's digest.</summary>
    private bool Applied(in TopologyMessage commit, bool fromPeer)
    {
        lock (_lock)
        {
            ulong digest = Chain(_digests[^1], commit.Vcpu, commit.Register, commit.Value);
            _digests.Add(digest);
            _applied.Add(commit);
            _applying = null;
            if (!fromPeer)
                SettleFailedCalls(commit);
            Volatile.Write(ref _epoch, _epoch + 1); // release: readers of Epoch see the engine's apply (and FailedButApplied) before it
            Monitor.PulseAll(_lock); // WaitCaughtUp
            if (digest != commit.Digest)
            {
                _node.Log($"node {_self}: topology write #{commit.Index} gives digest {digest:x16} here but {commit.Digest:x16} on the sequencer: the topologies diverged; no more writes are applied");
                _node.Link(Sequencer).Abort(LinkFault.TopologyMismatch);
                return false;
            }
            if (IsSequencer)
                Confirm();
            else
                _node.Link(Sequencer).SendTopology(State());
            return true;
        }
    }

    private TopologyWriteException Fail(TopologyWriteFailure failure, string message)
    {
        Interlocked.Increment(ref _failures[(int)failure]);
        _node.Log(message);
        return new TopologyWriteException(failure, message);
    }

    private string LinksDown()
    {
        var down = _node.Links.Where(l => !l.IsConnected).Select(l => l.PeerNode).ToArray();
        return down.Length == 0 ? "" : $" (links down to node{(down.Length > 1 ? "s" : "")} {string.Join(", ", down)})";
    }

    /// <summary>Who did not confirm write <paramref name="index"/>: the subject of the not-confirmed sentence.</summary>
    private string Unconfirmed(long index)
    {
        if (!IsSequencer)
            return $"the sequencer, node {Sequencer}{LinksDown()},";
        lock (_lock)
        {
            var missing = _node.Links.Where(l => _peerEpoch[l.PeerNode] <= index).Select(l => l.PeerNode).ToArray();
            return $"node{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}";
        }
    }
}
