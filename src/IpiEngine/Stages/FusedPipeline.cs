using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>
/// Fused mode: one thread gathers, resolves, batches and delivers each available batch. Best when cores are few:
/// no hand-off between stage threads, and a ring's head moves only after its records are resolved.
/// </summary>
internal sealed class FusedPipeline<TNotifier> : EnginePipeline<TNotifier> where TNotifier : struct, IDeliveryNotifier
{
    private Thread? _thread;

    public FusedPipeline(PipelineParts parts, TNotifier notifier)
        : base(parts, notifier)
    {
    }

    /// <inheritdoc/>
    public override void Start()
    {
        _thread = new Thread(() => Guard(Run)) { IsBackground = true, Name = "ipi-fused" };
        _thread.Start();
    }

    /// <inheritdoc/>
    public override bool WaitResolved(ReadOnlySpan<long> publishedSnapshot)
        => WaitRingsConsumedPast(publishedSnapshot); // fused: a ring's head moves only after resolution

    /// <inheritdoc/>
    protected override void Join() => _thread?.Join();

    /// <inheritdoc/>
    public override long UnresolvedAfterFault() => Parts.Posting.Unconsumed(); // a ring's head moves only after resolution

    /// <inheritdoc/>
    public override long UndeliveredAfterFault() => 0; // a pass delivers (and counts) what it resolved before it ends

    private void Run()
    {
        var pass = new FusedRun(this);
        RunLoop(ref pass);
    }
}
