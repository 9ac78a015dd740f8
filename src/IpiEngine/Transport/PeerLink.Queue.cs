using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// The producer side of a link: the engine's deliver thread hands the peer its records, which go into the peer's own
/// bounded queue (the <see cref="OutboundWindow"/>) and return at once while there is room, so one slow, stopped or
/// cut peer holds up nobody else until its queue is full. Then <see cref="FullQueuePolicy"/> decides: wait (stall
/// counted) or declare the peer unreachable (records refused and counted, never silently). Also the link's state
/// and the time spent in each state.
/// </summary>
internal sealed partial class PeerLink
{
    private readonly FullQueuePolicy _policy;
    private readonly int _ordinaryReserve;  // slots only NMI/SMI/INIT/SIPI may fill (fail policy)
    private bool _unreachable;              // producer only
    private volatile bool _forwardWaits;    // written by the producer around its wait for room; read by any thread
    private long _unreachableCount, _stallTicks;

    // Link state: two inputs (connection progress, producer pressure), one effective state, time per state.
    private readonly Lock _stateGate = new();
    private readonly long[] _ticksIn = new long[4];
    private LinkState _connectionState = LinkState.Down;
    private LinkState _state = LinkState.Down;
    private bool _pressured;
    private long _stateSince = Stopwatch.GetTimestamp();

    /// <summary>The link's state now.</summary>
    public LinkState State
    {
        get
        {
            lock (_stateGate)
                return _state;
        }
    }

    /// <summary>
    /// Hands <paramref name="records"/> to the peer's queue (one producer thread) and returns how many were refused
    /// (0 unless the peer is unreachable under the fail policy, or the node or engine stopped while the queue stayed
    /// full); refused records are counted here and by the engine, never dropped silently.
    /// </summary>
    public int Forward(ReadOnlySpan<RemoteDelivery> records)
    {
        int refused = _policy == FullQueuePolicy.Fail ? QueueOrRefuse(records) : QueueWaiting(records, 0);
        Volatile.Write(ref _forwarded, _forwarded + records.Length - refused);
        if (!_node.DefersForwards)
            _signal.Notify(); // a batch open on this thread sends them at its flush (SendBatch, (1))
        return refused;
    }

    /// <summary>Queues all of <paramref name="records"/>, waiting for room; the tail that never fitted is abandoned.</summary>
    private int QueueWaiting(ReadOnlySpan<RemoteDelivery> records, int reserve)
    {
        while (!records.IsEmpty)
        {
            int n = _window.Append(records, reserve);
            if (n == 0)
            {
                if (!WaitForRoom(reserve))
                {
                    Volatile.Write(ref _abandoned, _abandoned + records.Length);
                    return records.Length;
                }
                continue;
            }
            records = records[n..];
        }
        return 0;
    }

    /// <summary>Fail policy: queue while there is room; once full, refuse all but NMI/SMI/INIT/SIPI until the peer recovers.</summary>
    private int QueueOrRefuse(ReadOnlySpan<RemoteDelivery> records)
    {
        if (_unreachable && IsConnected && _window.Free >= _window.Capacity / 2)
        {
            _unreachable = false;
            SetPressured(false);
            _node.Log($"link {_node.NodeId}->{PeerNode}: peer reachable again, forwarding resumes");
        }
        if (!_unreachable)
        {
            while (!records.IsEmpty)
            {
                int n = _window.Append(records, _ordinaryReserve);
                if (n == 0)
                    break;
                records = records[n..];
            }
            if (records.IsEmpty)
                return 0;
            _signal.Notify(); // a send batch may hold the window's records unsent: they go now, whatever the peer's state
            _unreachable = true;
            SetPressured(true);
            _node.Log($"link {_node.NodeId}->{PeerNode}: queue of {_window.Capacity} records full, peer declared unreachable (policy fail)");
        }
        return RefuseOrdinary(records);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int RefuseOrdinary(ReadOnlySpan<RemoteDelivery> records)
    {
        int unreachable = 0, abandoned = 0;
        for (int i = 0; i < records.Length; i++)
        {
            if (IsNeverDropped(records[i].IcrLow))
                abandoned += QueueWaiting(records.Slice(i, 1), 0); // the reserve is theirs; waits only if even it is full
            else
                unreachable++;
        }
        Volatile.Write(ref _unreachableCount, _unreachableCount + unreachable);
        return unreachable + abandoned;
    }

    /// <summary>
    /// SMI (010), NMI (100), INIT (101), start-up (110): one-shot events a vCPU cannot get again by a later IPI; and the
    /// IOAPIC's EOIs and entry writes (<see cref="RemoteDelivery.IoApicEoiFlag"/>), whose loss would leave a pin's remote
    /// IRR set or its entry stale for good.
    /// </summary>
    internal static bool IsNeverDropped(uint icrLow)
        => (icrLow & RemoteDelivery.IoApicEoiFlag) != 0 || ((icrLow >> 8) & 7) is 2 or 4 or 5 or 6;

    /// <summary>
    /// Whether a forward waits for room in this peer's queue now, which only the peer's acknowledgements free (read by
    /// this link's receive thread before it waits for the engine: <see cref="Delivery.RemoteForwarder.MayWaitForRoom"/>).
    /// </summary>
    internal bool ForwardWaitsForRoom => _forwardWaits; // volatile: a reader polls it, so seeing it a look late is enough

    /// <summary>Spins, then sleeps, until there is room; false once the node stops or the engine's stop grace ran out.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool WaitForRoom(int reserve)
    {
        _forwardWaits = true; // volatile, as this wait starts (a reader polls it, so a store seen a look late is enough); set for as long as it lasts
        _signal.Notify();
        long start = Stopwatch.GetTimestamp();
        SetPressured(true);
        var spin = new SpinWait();
        bool room = true;
        while (_window.Free <= reserve)
        {
            if (_node.GiveUpWaiting(Stopwatch.GetTimestamp()))
            {
                room = false;
                break;
            }
            spin.SpinOnce();
        }
        SetPressured(_unreachable); // a peer declared unreachable (fail policy: an NMI waited) stays back-pressured
        Volatile.Write(ref _stallTicks, _stallTicks + (Stopwatch.GetTimestamp() - start));
        _forwardWaits = false; // volatile: a receive thread may wait for the engine again
        return room;
    }

    private void SetConnectionState(LinkState state)
    {
        lock (_stateGate)
        {
            _connectionState = state;
            UpdateState();
        }
    }

    private void SetPressured(bool pressured)
    {
        lock (_stateGate)
        {
            _pressured = pressured;
            UpdateState();
        }
    }

    private void UpdateState()
    {
        var next = _connectionState == LinkState.Connected && _pressured ? LinkState.BackPressured : _connectionState;
        if (next == _state)
            return;
        long now = Stopwatch.GetTimestamp();
        _ticksIn[(int)_state] += now - _stateSince;
        _stateSince = now;
        _state = next;
    }

    private LinkStateTimes ReadTimes(out LinkState state)
    {
        lock (_stateGate)
        {
            long current = Stopwatch.GetTimestamp() - _stateSince;
            var now = _state;
            state = now;
            TimeSpan In(LinkState s) => Stopwatch.GetElapsedTime(0, _ticksIn[(int)s] + (s == now ? current : 0));
            return new LinkStateTimes
            {
                Down = In(LinkState.Down), Reconnecting = In(LinkState.Reconnecting), Connected = In(LinkState.Connected),
                BackPressured = In(LinkState.BackPressured),
            };
        }
    }
}
