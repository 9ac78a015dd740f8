using System.Threading.Tasks.Sources;

namespace IpiEngine.Transport;

/// <summary>
/// An allocation-free auto-reset signal for one async waiter (a link's send loop) and any number of notifiers.
/// A notification that finds the waiter parked hands the wake-up to the thread pool through this preallocated
/// work item, so the notifier (the engine's delivery thread) never runs the send loop itself and nothing is
/// allocated per wake-up. A notification with nobody waiting is remembered until the next wait.
/// </summary>
/// <remarks>
/// A host's <see cref="SendBatch.Flush"/> may instead do the parked waiter's work on its own thread:
/// <see cref="TryClaimParked"/> takes the waiter's role while it stays parked, and <see cref="ReleaseClaim"/> gives it
/// back. Why no notification is lost: a claim exists only while the waiter is parked, so only the claimer does its
/// work. A notification made during a claim either happened before the claimer read the work (which then includes
/// it) or moves the state to <c>ClaimedNotified</c>, and then the release wakes the waiter, which reads the work
/// again. Only the claimer leaves the two claimed states; notifiers only go from <c>Claimed</c> to
/// <c>ClaimedNotified</c>; and every transition is a compare-and-swap or exchange (full fences), so the claimer's
/// writes (the send loop's cursor, a flush it left pending) are visible to the waiter it wakes.
/// </remarks>
internal sealed class WakeSignal : IValueTaskSource, IThreadPoolWorkItem
{
    private const int Idle = 0, Waiting = 1, Notified = 2, Claimed = 3, ClaimedNotified = 4;

    // Continuations run inline in Execute (already on a pool thread), never on the notifier's thread.
    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    /// <summary>Wakes the waiter, or makes the next wait return at once (or, during a claim, makes its release wake the waiter).</summary>
    public void Notify()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state is Notified or ClaimedNotified)
                return;
            int next = state switch
            {
                Idle => Notified,
                Claimed => ClaimedNotified,
                _ => Idle, // Waiting: wake it
            };
            // Full-fence CAS: the waiter's (or claimer's) re-check of its work and this transition are ordered either way.
            if (Interlocked.CompareExchange(ref _state, next, state) != state)
                continue;
            if (state == Waiting)
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return;
        }
    }

    /// <summary>
    /// Takes the parked waiter's role on the calling thread (the waiter stays parked); false when the waiter is not
    /// parked (running, woken, or already claimed). Follow a true with <see cref="ReleaseClaim"/>.
    /// </summary>
    public bool TryClaimParked() => Interlocked.CompareExchange(ref _state, Claimed, Waiting) == Waiting; // full fence: the claimer reads the waiter's state after this

    /// <summary>
    /// Gives the role back: the waiter stays parked, unless it was notified during the claim or
    /// <paramref name="wake"/> asks for it (the claimer left it work), and then it is woken.
    /// </summary>
    public void ReleaseClaim(bool wake)
    {
        if (!wake && Interlocked.CompareExchange(ref _state, Waiting, Claimed) == Claimed) // full fence: the claimer's writes first
            return;
        Interlocked.Exchange(ref _state, Idle); // Claimed or ClaimedNotified: only the claimer leaves them; full fence: its writes first
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Waits for the next notification (single waiter).</summary>
    public ValueTask WaitAsync()
    {
        // Consume a pending notification without parking.
        if (Interlocked.CompareExchange(ref _state, Idle, Notified) == Notified)
            return default;
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Idle)
            return new ValueTask(this, _core.Version);
        // A notification arrived between the two steps: consume it.
        Volatile.Write(ref _state, Idle);
        return default;
    }

    void IThreadPoolWorkItem.Execute() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
