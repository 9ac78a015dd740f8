namespace IpiEngine.Delivery;

/// <summary>
/// The engine's exception policy for its notifier (like the Disruptor's exception handler): one instance per engine,
/// shared by every thread that notifies. Used only when a notifier threw, never on the delivery path otherwise.
/// </summary>
internal sealed class NotifierFaults(NotifierExceptionPolicy policy, Action<int, Exception>? handler)
{
    private int _traced;

    /// <summary>Whether a notifier exception fails the pipeline (after the batch).</summary>
    public bool FailFast => policy == NotifierExceptionPolicy.FailFast;

    /// <summary>Reports one notifier exception (the caller has counted it) to the handler, or traces the first one.</summary>
    public void Report(int vcpu, Exception exception)
    {
        if (handler is not null)
        {
            handler(vcpu, exception); // may throw: the batcher keeps it and fails the pipeline once the batch is counted
            return;
        }

        if (Interlocked.Exchange(ref _traced, 1) == 0) // the first only: a kick failing per delivery must not flood the trace
        {
            System.Diagnostics.Trace.TraceWarning($"IPI engine: the notifier threw for vCPU {vcpu} (counted as a notifier fault; delivery continues): {exception}");
        }
    }
}
