namespace IpiEngine.Pipeline;

/// <summary>
/// The default: spins for a few looks (work usually arrives within a microsecond under load), yields for a while (on
/// an oversubscribed machine the producers need this core), then parks until signalled (idle costs nothing).
/// </summary>
internal sealed class HybridWaitStrategy : WaitStrategy
{
    private const int SpinLooks = 16;
    private const int YieldLooks = 48;

    /// <summary>The shared instance.</summary>
    public static readonly HybridWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Hybrid;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        if (look < SpinLooks)
        {
            Thread.SpinWait(8);
            return false;
        }

        if (look < SpinLooks + YieldLooks)
        {
            Thread.Yield();
            return false;
        }

        return true;
    }
}
