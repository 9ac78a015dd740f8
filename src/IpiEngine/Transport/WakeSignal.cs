using System.Threading.Tasks.Sources;

namespace IpiEngine.Transport;

/// <summary>
/// An allocation-free auto-reset signal for one async waiter (a link's send loop) and any number of notifiers.
/// A notification that finds the waiter parked hands the wake-up to the thread pool through this preallocated
/// work item, so the notifier (the engine's delivery thread) never runs the send loop itself and nothing is
/// allocated per wake-up. A notification with nobody waiting is remembered until the next wait.
/// </summary>
internal sealed class WakeSignal : IValueTaskSource, IThreadPoolWorkItem
{
    private const int Idle = 0, Waiting = 1, Notified = 2;

    // Continuations run inline in Execute (already on a pool thread), never on the notifier's thread.
    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    /// <summary>Wakes the waiter, or makes the next wait return at once.</summary>
    public void Notify()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == Notified)
                return;
            // Full-fence CAS: the waiter's re-check of its work and this transition are ordered either way.
            if (Interlocked.CompareExchange(ref _state, state == Idle ? Notified : Idle, state) != state)
                continue;
            if (state == Waiting)
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return;
        }
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
