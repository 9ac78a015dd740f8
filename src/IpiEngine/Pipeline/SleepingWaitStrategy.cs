namespace IpiEngine.Pipeline;

/// <summary>Spins, then yields, then sleeps about a millisecond per look; never parks on the event.</summary>
internal sealed class SleepingWaitStrategy : WaitStrategy
{
    private const int SpinLooks = 32;
    private const int YieldLooks = 64;

    /// <summary>The shared instance.</summary>
    public static readonly SleepingWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Sleeping;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        if (look < SpinLooks)
        {
            Thread.SpinWait(8);
        }
        else if (look < SpinLooks + YieldLooks)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }

        return false;
    }
}
