namespace IpiEngine.Pipeline;

/// <summary>Spins with a pause instruction and never gives the core away.</summary>
internal sealed class BusySpinWaitStrategy : WaitStrategy
{
    /// <summary>The shared instance.</summary>
    public static readonly BusySpinWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.BusySpin;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        Thread.SpinWait(8);
        return false;
    }
}
