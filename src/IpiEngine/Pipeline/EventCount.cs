using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Pipeline;

/// <summary>
/// Lets waiters park without missing a wake-up, and costs a signalling thread one read when nobody is parked.
/// A waiter registers (<see cref="PrepareWait"/>), re-checks its condition, and only then parks on the epoch it read;
/// a signaller publishes its progress, issues a full fence, and wakes the parked only if it sees a registered waiter.
/// </summary>
/// <remarks>
/// The waiter's registration and the signaller's publication are both followed by full fences before each reads the
/// other's variable, so at least one of them sees the other: either the waiter's re-check sees the progress, or the
/// signaller sees the waiter and bumps the epoch under the lock the waiter parks with.
/// </remarks>
internal sealed class EventCount
{
    private readonly object _gate = new(); // a Monitor, not a Lock: waiters use Monitor.Wait
    private PaddedLong _epoch;
    private PaddedLong _waiters;

    /// <summary>Whether any waiter is registered (a snapshot).</summary>
    public bool HasWaiters => Volatile.Read(ref _waiters.Value) != 0;

    /// <summary>Registers a waiter (full fence) and returns the epoch to park on.</summary>
    public long PrepareWait()
    {
        Interlocked.Increment(ref _waiters.Value); // full fence: the caller's re-check of its condition comes after
        return Volatile.Read(ref _epoch.Value);
    }

    /// <summary>Unregisters a waiter whose re-check succeeded.</summary>
    public void CancelWait() => Interlocked.Decrement(ref _waiters.Value);

    /// <summary>Parks until the epoch moves past <paramref name="epoch"/> (or the safety timeout), then unregisters.</summary>
    public void Wait(long epoch)
    {
        lock (_gate)
        {
            // The timeout is a safety net only: every progress that can satisfy a waiter signals (the test suite passes
            // in the same time with a 30 s timeout). Long enough that a lost wake-up would show as a stall, not hide.
            if (Volatile.Read(ref _epoch.Value) == epoch)
            {
                Monitor.Wait(_gate, 1000);
            }
        }

        Interlocked.Decrement(ref _waiters.Value);
    }

    /// <summary>After a publication that was a full fence (an Interlocked operation): wakes parked waiters, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SignalAfterFence()
    {
        if (Volatile.Read(ref _waiters.Value) != 0)
        {
            SignalAll();
        }
    }

    /// <summary>After a release-only publication: a full fence, then wakes parked waiters, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Signal()
    {
        Interlocked.MemoryBarrier(); // order our publication before the read of the waiter count (store-load)
        SignalAfterFence();
    }

    /// <summary>Moves the epoch and wakes every parked waiter.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void SignalAll()
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _epoch.Value);
            Monitor.PulseAll(_gate);
        }
    }
}
