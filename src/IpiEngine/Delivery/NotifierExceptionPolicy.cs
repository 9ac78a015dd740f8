namespace IpiEngine.Delivery;

/// <summary>What the engine does when the notifier (a kick) throws. See docs/lifecycle.md.</summary>
public enum NotifierExceptionPolicy
{
    /// <summary>
    /// The default: count it (<see cref="EngineCounters.NotifierFaults"/>), hand it to
    /// <see cref="EngineOptions.NotifierExceptionHandler"/> (or trace the first one), and keep delivering. The interrupt
    /// itself is pending in the descriptor either way; one failed kick must not stop a VM's interrupts.
    /// </summary>
    Continue,

    /// <summary>
    /// Count it, finish the batch (so every record of it is accounted for), then fail the pipeline: the engine refuses
    /// every further post with <see cref="EngineFaultedException"/> and every Stop reports the exception.
    /// </summary>
    FailFast,
}
