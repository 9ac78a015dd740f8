using System.Runtime.CompilerServices;

namespace IpiEngine.Pipeline;

/// <summary>
/// How a thread waits when it has nothing to do. Strategies differ only in <see cref="Pause"/> (what to do on the
/// n-th empty look); <see cref="WaitUntil{TCondition}"/> is shared and parks through an <see cref="EventCount"/>
/// without losing a wake-up. Called only when a look found nothing, never per event.
/// </summary>
internal abstract class WaitStrategy
{
    /// <summary>Which strategy this is.</summary>
    public abstract WaitStrategyKind Kind { get; }

    /// <summary>
    /// The same strategy for a gathering thread whose posters deliver themselves while it is parked (fused mode's idle
    /// assist): a wake-up then costs a post nothing, so a strategy may park sooner. Most strategies are unchanged.
    /// </summary>
    public virtual WaitStrategy ForAssistedGathering => this;

    /// <summary>
    /// The same strategy for a posting thread that waits for room in its full ring: the pipeline thread is behind, so a
    /// strategy may stop spinning on a core that thread needs. Most strategies are unchanged.
    /// </summary>
    public virtual WaitStrategy ForRoom => this;

    /// <summary>The shared instance of a strategy.</summary>
    public static WaitStrategy For(WaitStrategyKind kind) => kind switch
    {
        WaitStrategyKind.Hybrid => HybridWaitStrategy.Instance,
        WaitStrategyKind.BusySpin => BusySpinWaitStrategy.Instance,
        WaitStrategyKind.Yielding => YieldingWaitStrategy.Instance,
        WaitStrategyKind.Sleeping => SleepingWaitStrategy.Instance,
        WaitStrategyKind.Blocking => BlockingWaitStrategy.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown wait strategy."),
    };

    /// <summary>
    /// Waits until <paramref name="condition"/> holds. Every thread whose progress can satisfy it must call
    /// <see cref="EventCount.Signal"/> on <paramref name="signal"/> afterwards.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WaitUntil<TCondition>(ref TCondition condition, EventCount signal) where TCondition : struct, IWaitCondition
    {
        if (!condition.IsSatisfied)
        {
            WaitSlow(ref condition, signal);
        }
    }

    /// <summary>
    /// One empty look, number <paramref name="look"/> (from 0, staying at <see cref="int.MaxValue"/> once there) of this wait: pause in the strategy's way and return
    /// false, or return true to park on the event until signalled.
    /// </summary>
    protected internal abstract bool Pause(int look);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitSlow<TCondition>(ref TCondition condition, EventCount signal) where TCondition : struct, IWaitCondition
    {
        ArgumentNullException.ThrowIfNull(signal);
        // The look number saturates: wrapped to int.MinValue, a sleeping or yielding wait idle for 2^31 looks (Yielding:
        // under an hour) would read as "still in its first spins" and busy-spin for the next 2^31.
        for (int step = 0; !condition.IsSatisfied; step = step == int.MaxValue ? step : step + 1)
        {
            if (!Pause(step))
            {
                continue;
            }

            condition.BeforePark(); // before registering: what it releases (doorbell bits) makes producers signal
            long epoch = signal.PrepareWait(); // registered (with a process-wide barrier) before the re-check below
            if (condition.IsSatisfied)
            {
                signal.CancelWait();
                return;
            }

            signal.Wait(epoch);
        }
    }
}
