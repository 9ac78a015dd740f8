using System.Runtime.CompilerServices;
using IpiEngine.Delivery;
using IpiEngine.Rings;

namespace IpiEngine.Stages;

/// <summary>
/// Fused mode: one thread gathers, resolves, batches and delivers each available batch. Best when cores are few:
/// no hand-off between stage threads, and a ring's head moves only after its records are resolved. While that thread
/// is parked, a poster may resolve and deliver its own ring's records itself (<see cref="IdleAssist"/>).
/// </summary>
internal sealed class FusedPipeline<TNotifier> : EnginePipeline<TNotifier>, IIdleAssistant where TNotifier : struct, IDeliveryNotifier
{
    private Thread? _thread;

    /// <summary>A fused pipeline; <paramref name="assist"/> replaces the default idle assist (tests stretch its bounds).</summary>
    public FusedPipeline(PipelineParts parts, TNotifier notifier, IdleAssist? assist = null)
        : base(parts, notifier)
    {
        if (parts.AssistIdle)
        {
            Assist = assist ?? new IdleAssist();
            parts.Posting.AttachAssistant(this); // before Start: the posters' slow path finds it from the first post
        }
    }

    /// <inheritdoc/>
    public override void Start()
    {
        _thread = StartThread(0, "ipi-fused", Run);
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

    /// <inheritdoc/>
    /// <remarks>The poster's side of <see cref="IdleAssist"/> (steps (3) to (6) of its remarks).</remarks>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    public bool TryAssist(int source, bool mayWait)
    {
        if (!mayWait && Parts.Forwarder is not null)
        {
            return false; // the flush may forward into a full link window and wait (policy Wait): a try-post rings and signals
        }

        IdleAssist assist = Assist!;
        if (!assist.TryBegin())
        {
            return false; // the pipeline thread is awake, or another poster assists: ring and signal
        }

        bool denseRunEnded;
        try
        {
            if (Parts.Doorbell.IsRung(source))
            {
                return false; // the pipeline re-rang this ring before it released the role: it owns these records (F2)
            }

            SpscRing<ExitRecord> ring = Parts.Rings[source];
            DeliverCounters.Add(CounterSlot.AssistedPasses, 1);
            PassOverRing(source, limit: ring.PublishedCount - ring.ConsumedCount); // only these: a nested post from the notifier is left to the pipeline
            denseRunEnded = assist.EndOfDenseRun();
        }
#pragma warning disable CA1031 // like a pipeline thread's failure (and Inline's pass): the engine fails, the poster is told
        catch (Exception ex)
#pragma warning restore CA1031
        {
            FailOnPostingThread(ex);
            return false; // not reached
        }
        finally
        {
            assist.End();
        }

        if (denseRunEnded)
        {
            Parts.Signal.Signal(); // after the release: the woken pipeline thread takes the role back at once (IdleAssist)
        }

        return true;
    }

    private void Run()
    {
        var pass = new FusedRun(this);
        RunLoop(ref pass);
    }
}
