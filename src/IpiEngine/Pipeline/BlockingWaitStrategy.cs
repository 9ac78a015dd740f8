namespace IpiEngine.Pipeline;

/// <summary>Parks on the event at the first empty look, until a producer signals.</summary>
internal sealed class BlockingWaitStrategy : WaitStrategy
{
    /// <summary>The shared instance.</summary>
    public static readonly BlockingWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Blocking;

    /// <inheritdoc/>
    protected internal override bool Pause(int look) => true;
}
