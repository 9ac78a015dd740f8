using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Pipeline;

/// <summary>
/// Lets waiters park without missing a wake-up, and costs a signalling thread one plain read when nobody is parked.
/// A waiter registers (<see cref="PrepareWait"/>), re-checks its condition, and only then parks on the epoch it read;
/// a signaller publishes its progress (a release store is enough) and wakes the parked only if it sees a registered waiter.
/// </summary>
/// <remarks>
/// The store-load order both sides need is paid by the waiter alone: it increments the waiter count and then runs
/// <see cref="Interlocked.MemoryBarrierProcessWide"/> before its re-check, while the signaller stores its progress and
/// reads the count with no fence (the asymmetric Dekker rule of <see cref="SpscRing{T}"/>'s remarks). The barrier falls
/// somewhere in the signaller's program order: if the signaller's read of the count came before that point, its
/// progress store did too and the waiter's re-check sees it; if it came after, it sees the registration and bumps the
/// epoch under the lock the waiter parks with (so a signal between the waiter's epoch read and its park is not lost).
/// Parking is rare (after a strategy's spins, yields or sleeps), so the waiter's few microseconds buy the removal of a
/// full fence from every signaller's pass.
/// </remarks>
internal sealed class EventCount
{
    private readonly object _gate = new(); // a Monitor, not a Lock: waiters use Monitor.Wait
    private PaddedLong _epoch;
    private PaddedLong _waiters;
    private readonly int _parkTimeoutMilliseconds;

    /// <summary>Creates an event count; a park ends after <paramref name="parkTimeoutMilliseconds"/> even unsignalled (a safety net).</summary>
    public EventCount(int parkTimeoutMilliseconds = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parkTimeoutMilliseconds);
        _parkTimeoutMilliseconds = parkTimeoutMilliseconds;
    }

    /// <summary>Whether any waiter is registered (a snapshot).</summary>
    public bool HasWaiters => Volatile.Read(ref _waiters.Value) != 0;

    /// <summary>Registers a waiter, then a process-wide barrier; returns the epoch to park on.</summary>
    public long PrepareWait()
    {
        Interlocked.Increment(ref _waiters.Value); // atomic: waiters register concurrently
        Interlocked.MemoryBarrierProcessWide(); // orders the registration before every signaller's unfenced read of the count (remarks)
        return Volatile.Read(ref _epoch.Value); // acquire, after the registration: a later SignalAll moves it
    }

    /// <summary>Unregisters a waiter whose re-check succeeded.</summary>
    public void CancelWait() => Interlocked.Decrement(ref _waiters.Value);

    /// <summary>Parks until the epoch moves past <paramref name="epoch"/> (or the safety timeout), then unregisters.</summary>
    public void Wait(long epoch)
    {
        lock (_gate)
        {
            // The timeout is a safety net only: every progress that can satisfy a waiter signals (the test suite passes
            // in the same time with a 30 s timeout, and the lost-wake-up tests use one). Long enough that a lost
            // wake-up would show as a stall, not hide.
            if (Volatile.Read(ref _epoch.Value) == epoch)
            {
                Monitor.Wait(_gate, _parkTimeoutMilliseconds);
            }
        }

        Interlocked.Decrement(ref _waiters.Value);
    }

    /// <summary>After a publication (a release store is enough): wakes parked waiters, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Signal()
    {
        if (Volatile.Read(ref _waiters.Value) != 0) // unfenced after the publication: the waiter's process-wide barrier orders the pair (remarks)
        {
            SignalAll();
        }
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
