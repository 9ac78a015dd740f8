using IpiEngine.Delivery;
using IpiEngine.Posting;

namespace IpiEngine.Stages;

/// <summary>
/// The engine's threads and stages behind one control-plane surface (virtual calls here are per control operation,
/// never per IPI): start, stop with drain, the topology-ordering wait, inline draining, remote injection, counters.
/// </summary>
internal abstract class EnginePipeline(PostingRings posting)
{
    private volatile Exception? _fault;
    private volatile bool _stopping;

    /// <summary>Every counter block the pipeline's threads own.</summary>
    public abstract StageCounters[] Counters { get; }

    /// <summary>The failure that stopped a pipeline thread, if any.</summary>
    public Exception? Fault => _fault;

    /// <summary>Set by <see cref="StopAndJoin"/>: threads drain and exit.</summary>
    protected bool Stopping => _stopping;

    /// <summary>Starts the threads.</summary>
    public abstract void Start();

    /// <summary>Asks the threads to drain and exit, and waits for them.</summary>
    public void StopAndJoin()
    {
        _stopping = true;
        Wake();
        Join();
    }

    /// <summary>
    /// Waits until every record published before <paramref name="publishedSnapshot"/> was taken (per ring) has been
    /// resolved; returns false if the pipeline stopped or failed meanwhile.
    /// </summary>
    public abstract bool WaitResolved(ReadOnlySpan<long> publishedSnapshot);

    /// <summary>
    /// After a fault, with the threads joined: how many taken records were never resolved (still in the vCPU rings, or
    /// between stages). Stop counts them as rejected (<see cref="Apic.RejectReason.EngineFaulted"/>).
    /// </summary>
    public abstract long UnresolvedAfterFault();

    /// <summary>Resolves and delivers everything in the rings on the calling thread (only while no pipeline thread runs).</summary>
    public abstract void DrainInline();

    /// <summary>Applies deliveries forwarded by another node (any thread; serialised).</summary>
    public abstract void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries);

    /// <summary>Wakes every parked pipeline thread.</summary>
    protected abstract void Wake();

    /// <summary>Waits for the pipeline threads to exit.</summary>
    protected abstract void Join();

    /// <summary>A thread failed: release the other threads from waits that its progress would have ended.</summary>
    protected virtual void OnFault()
    {
    }

    /// <summary>Runs a thread body, recording a failure instead of letting it end the process.</summary>
    protected void Guard(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            body();
        }
#pragma warning disable CA1031 // a pipeline thread must not take the process down: the failure is reported by Stop
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex);
        }
    }

    /// <summary>
    /// The pipeline failed (any thread): keep the first failure, close the producers' rings with it (from now on every
    /// post throws <see cref="EngineFaultedException"/>), release the other threads and let them exit.
    /// </summary>
    protected void Fail(Exception failure)
    {
        Exception original = failure is EngineFaultedException { InnerException: { } inner } ? inner : failure;
        _fault ??= original;
        posting.Close(original);
        _stopping = true;
        OnFault();
        Wake();
    }
}
