namespace IpiEngine.Pipeline;

/// <summary>What a waiter waits for, as a struct so that <see cref="WaitStrategy.WaitUntil{TCondition}"/> inlines it.</summary>
internal interface IWaitCondition
{
    /// <summary>True when the wait is over (including when it was called off, which the caller checks afterwards).</summary>
    bool IsSatisfied { get; }
}
