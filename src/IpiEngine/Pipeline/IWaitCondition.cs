namespace IpiEngine.Pipeline;

/// <summary>What a waiter waits for, as a struct so that <see cref="WaitStrategy.WaitUntil{TCondition}"/> inlines it.</summary>
internal interface IWaitCondition
{
    /// <summary>True when the wait is over (including when it was called off, which the caller checks afterwards).</summary>
    bool IsSatisfied { get; }

    /// <summary>
    /// Called once the waiter decided to park, before it registers: give up whatever would keep the threads that
    /// satisfy the condition from signalling (the gather stage's idle doorbell bits). Most conditions have nothing.
    /// </summary>
    void BeforePark();
}
