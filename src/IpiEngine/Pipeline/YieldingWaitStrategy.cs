namespace IpiEngine.Pipeline;

/// <summary>Spins for a few looks, then yields the core on every later look; never parks.</summary>
internal sealed class YieldingWaitStrategy : WaitStrategy
{
    private const int SpinLooks = 64;

    /// <summary>The shared instance.</summary>
    public static readonly YieldingWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Yielding;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        if (look < SpinLooks)
        {
            Thread.SpinWait(8);
        }
        else if (!Thread.Yield())
        {
            Thread.Sleep(0); // nothing else on this core wanted it: let any ready thread of equal priority run
        }

        return false;
    }
}
