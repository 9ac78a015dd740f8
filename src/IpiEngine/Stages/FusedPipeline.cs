using IpiEngine.Delivery;
using IpiEngine.Pipeline;

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
    {
        // Fused: a ring's head moves only after its records were resolved, so the heads alone tell.
        while (!RingsConsumedPast(publishedSnapshot))
        {
            if (Stopping || Fault is not null)
            {
                return false;
            }

            Thread.Yield(); // rare (topology writes): the pipeline thread needs the core more than we do
        }

        return true;
    }

    /// <inheritdoc/>
    protected override void Join() => _thread?.Join();

    /// <inheritdoc/>
    public override long UnresolvedAfterFault() => Parts.Posting.Unconsumed(); // a ring's head moves only after resolution

    private void Run()
    {
        var idle = new Idle(this);
        while (true)
        {
            if (FusedPass())
            {
                continue;
            }

            if (Stopping)
            {
                if (!FusedPass() && Gather.AllEmpty)
                {
                    return;
                }

                continue;
            }

            Parts.Wait.WaitUntil(ref idle, Parts.Signal);
        }
    }

    /// <summary>The pipeline thread's idle condition: a doorbell rang, or the engine is stopping.</summary>
    private readonly struct Idle(FusedPipeline<TNotifier> pipeline) : IWaitCondition
    {
        public bool IsSatisfied => pipeline.Gather.AnyRung || pipeline.Stopping;
    }
}
