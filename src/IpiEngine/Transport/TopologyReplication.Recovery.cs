using System.Diagnostics;

namespace IpiEngine.Transport;

/// <summary>
/// A sequencer's recovery of the VM's order (protocol and proof in <c>docs/wire-format.md</c>, "A restarted sequencer
/// recovers the order"). A sequencer starts with an empty log: it gives no index until every node's State arrived and
/// it holds every commit any node reported holding; nodes replay the commits its State shows it lacks (Replay), each
/// checked against the digest chain. Then it rebuilds the last request ordered per origin and vCPU, resends the log to the
/// nodes behind, orders the requests that waited, and orders as before.
/// </summary>
public sealed partial class TopologyReplication
{
    // Sequencer recovery (all under _lock).
    private bool _recovering;                                                  // no new index until every node was heard and its writes are in the log
    private readonly bool[] _heard;                                            // by node id: a State arrived since this sequencer started
    private readonly long[] _peerHeld;                                         // by node id: writes it holds (its last State)
    private readonly Dictionary<int, (TopologyMessage Request, long Arrived)> _waiting = []; // requests that came while recovering, by origin

    /// <summary>True while this node, the sequencer, is still recovering the VM's order from the other nodes (it orders nothing meanwhile).</summary>
    internal bool IsRecovering
    {
        get
        {
            lock (_lock)
                return _recovering;
        }
    }

    /// <summary>Tests: the epoch this sequencer last heard from <paramref name="node"/> (its last State), or -1 if none since it started.</summary>
    internal long EpochHeardFrom(int node)
    {
        lock (_lock)
            return _heard[node] ? _peerEpoch[node] : -1;
    }

    /// <summary>Tests: whether this recovering sequencer heard <paramref name="node"/>'s State, and holds a request of it that waits.</summary>
    internal (bool Heard, bool RequestWaits) RecoveryViewOf(int node)
    {
        lock (_lock)
            return (_heard[node], _waiting.ContainsKey(node));
    }

    /// <summary>Node side, under the lock: the sequencer's first State on a connection shows <paramref name="from"/> writes; replay those this node holds past it.</summary>
    private void ReplayTo(PeerLink sequencer, long from)
    {
        long held = Held;
        for (long i = from; i < held; i++)
        {
            var commit = i < _applied.Count ? _applied[(int)i] : _applying!.Value;
            sequencer.SendTopology(commit with { Type = TopologyMessageType.Replay });
        }
    }

    /// <summary>
    /// Sequencer, under the lock: a commit a peer holds. One the log has must be the same commit; the next one extends
    /// the log (while recovering) only if its digest follows the log's; anything else closes the link.
    /// </summary>
    private void Recover(int peer, in TopologyMessage replay)
    {
        var commit = replay with { Type = TopologyMessageType.Commit };
        int count = _ordered.Count;
        if (commit.Index < count)
        {
            if (_ordered[(int)commit.Index] != commit)
            {
                throw new LinkProtocolException(LinkFault.TopologyMismatch, $"node {peer} replays topology write #{commit.Index} with digest {commit.Digest:x16}, "
                    + $"but this sequencer's write #{commit.Index} has {_ordered[(int)commit.Index].Digest:x16}: the orders diverged");
            }
            return; // a copy: another node replayed it first, or this log had it
        }
        if (!_recovering)
        {
            throw new LinkProtocolException(LinkFault.TopologyMismatch, $"node {peer} replays topology write #{commit.Index}, past this sequencer's order "
                + $"of {count}, recovered from every node: the order lost writes that node holds");
        }
        if (commit.Index > count)
            throw new LinkProtocolException(LinkFault.UnexpectedFrame, $"node {peer} replays topology write #{commit.Index} but #{count} is the next one this log lacks");
        ulong digest = Chain(_orderDigest, commit.Vcpu, commit.Register, commit.Value);
        if (digest != commit.Digest)
        {
            throw new LinkProtocolException(LinkFault.TopologyMismatch, $"node {peer} replays topology write #{commit.Index} with digest {commit.Digest:x16}, "
                + $"but it gives {digest:x16} after this sequencer's order: the topologies diverged");
        }
        _orderDigest = digest;
        _ordered.Add(commit);
        Accept(commit); // this node applies it in order like any other
        TryFinishRecovery();
    }

    /// <summary>Sequencer, under the lock, while recovering: a request waits (the newest per origin: a node has one write in flight).</summary>
    private void Hold(in TopologyMessage request) => _waiting[request.Origin] = (request, Stopwatch.GetTimestamp());

    /// <summary>
    /// Sequencer, under the lock: ends the recovery once every node's State arrived and the log holds every write any of
    /// them holds. Then: the last request ordered per origin and vCPU (a resend or retry of one is not ordered twice), a
    /// Done owed for each of those (the write its writer may still wait for), the log resent to the nodes behind, and the
    /// requests that waited ordered, oldest first (one older than the write timeout is dropped: its writer gave up).
    /// </summary>
    private void TryFinishRecovery()
    {
        if (!_recovering)
            return;
        long target = 0;
        foreach (var link in _node.LinkArray)
        {
            if (!_heard[link.PeerNode])
                return;
            target = Math.Max(target, _peerHeld[link.PeerNode]);
        }
        if (_ordered.Count < target)
            return;
        _recovering = false;
        _catchUpTarget = _ordered.Count; // caught up once its applier applied the recovered order
        for (int i = 0; i < _ordered.Count; i++)
            _lastRequest[(_ordered[i].Origin, _ordered[i].Vcpu)] = (_ordered[i].RequestId, i);
        foreach (long index in _lastRequest.Values.Select(last => last.Index).Order())
            _unconfirmed.Enqueue(_ordered[(int)index]);
        foreach (var link in _node.LinkArray)
        {
            int peer = link.PeerNode;
            if (!_checked[peer] || !_resendOnState[peer])
                continue; // its State on the current connection has not come yet: OnPeerState resends then
            _resendOnState[peer] = false;
            for (long i = _peerEpoch[peer]; i < _ordered.Count; i++)
                link.SendTopology(_ordered[(int)i]);
        }
        foreach (var link in _node.LinkArray)
        {
            if (_checked[link.PeerNode])
                link.SendTopology(State()); // the order's length, which a node catching up waits for (its earlier States had none)
        }
        if (_ordered.Count > 0)
            _node.Log($"node {_self}: sequencer recovered the VM's order of {_ordered.Count} topology writes from every node; ordering again");
        long oldest = Stopwatch.GetTimestamp() - (long)(_node.Options.TopologyWriteTimeout.TotalSeconds * Stopwatch.Frequency);
        var waiting = _waiting.Values.OrderBy(w => w.Arrived).ToArray();
        _waiting.Clear();
        foreach (var (request, arrived) in waiting)
        {
            bool wanted = request.Origin == _self ? _outstanding?.RequestId == request.RequestId : arrived >= oldest;
            if (wanted)
                Order(request);
            else
                _node.Log($"node {_self}: dropped node {request.Origin}'s topology request {request.RequestId:x}, which waited for the recovery longer than its writer does");
        }
        Confirm();
    }

    /// <summary>Under the lock: why a write may not have been ordered, when the sequencer may be recovering (else empty).</summary>
    private string RecoveryState()
    {
        if (!IsSequencer)
        {
            return _node.Link(Sequencer).IsConnected
                ? ": its link is up, so it may be recovering the VM's order after a restart (it orders nothing until it has heard every node)"
                : "";
        }
        if (!_recovering)
            return "";
        var unheard = _node.Links.Where(l => !_heard[l.PeerNode]).Select(l => l.PeerNode).ToArray();
        long target = _node.Links.Select(l => _peerHeld[l.PeerNode]).DefaultIfEmpty(0).Max();
        return unheard.Length > 0
            ? $": this sequencer is recovering the VM's order and has not heard node{(unheard.Length > 1 ? "s" : "")} {string.Join(", ", unheard)} yet"
            : $": this sequencer is recovering the VM's order and holds {_ordered.Count} of the {target} writes its peers hold";
    }
}
