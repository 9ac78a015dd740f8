using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>
/// Inline mode: no pipeline thread. A post publishes its record into its source's ring as in the other modes (so the
/// counters, the stop handshake and the fault accounting are the same), then, on the posting thread and under one
/// lock, drains that ring through the fused consumer (resolve, batch) and flushes the batch (descriptors, notifier,
/// log, forwarding) before it returns.
/// </summary>
/// <remarks>
/// Determinism: one lock serialises every post with its delivery, so the deliveries, notifications and log entries of
/// a sequence of posts depend only on that sequence (each post's batch holds that post's deliveries only, as the
/// sequential reference resolves them). Posts from several threads are serialised in lock order, which is then the
/// order of record. Ordering proof: a record is resolved inside the same critical section that published it, so when a
/// thread holds the lock, every record published before is resolved, and the ring it posts into is empty (a run of up
/// to the ring's capacity then fits without waiting for a consumer that does not exist). Topology writes take the lock
/// once to wait for a post in flight. Before <see cref="Start"/>, posts only queue (as in the other modes); the start
/// delivers them. The notifier runs under the lock: a post from the notifier is refused (it would nest in the batch
/// that called it).
/// </remarks>
internal sealed class InlinePipeline<TNotifier> : EnginePipeline<TNotifier>, IInlinePoster where TNotifier : struct, IDeliveryNotifier
{
    private const int AllSources = -1;
    private readonly Lock _gate = new();
    private bool _running;    // under _gate
    private bool _delivering; // under _gate: a pass runs (a post now comes from the notifier)

    public InlinePipeline(PipelineParts parts, TNotifier notifier)
        : base(parts, notifier)
    {
    }

    /// <inheritdoc/>
    public override void Start()
    {
        lock (_gate)
        {
            _running = true;
            PassOne(AllSources); // what was posted before the start, first
        }
    }

    /// <inheritdoc/>
    [MethodImpl(HotPath.Optimized)]
    public bool Post(int source, ushort register, ulong value, uint destinationId, ulong tag, long timestamp, bool wait)
    {
        lock (_gate)
        {
            ThrowIfNested();
            if (!Parts.Posting.Post(source, register, value, destinationId, tag, timestamp, wait))
            {
                return false; // before the start: the ring is full (try-post), or dropped by policy and counted
            }

            if (_running)
            {
                PassOne(source);
            }

            return true;
        }
    }

    /// <inheritdoc/>
    [MethodImpl(HotPath.Optimized)]
    public void PostRun(int source, ReadOnlySpan<ExitRecord> run, long timestamp)
    {
        lock (_gate)
        {
            ThrowIfNested();
            if (!_running)
            {
                Parts.Posting.PostRun(source, run, timestamp); // queued for the start (a full ring refuses, as in the other modes)
                return;
            }

            int piece = Parts.Rings[source].Capacity; // the ring is empty here (see the remarks): a piece never waits
            for (int i = 0; i < run.Length; i += piece)
            {
                Parts.Posting.PostRun(source, run.Slice(i, Math.Min(piece, run.Length - i)), timestamp);
                PassOne(source);
            }
        }
    }

    /// <inheritdoc/>
    public override bool WaitResolved(ReadOnlySpan<long> publishedSnapshot)
    {
        lock (_gate)
        {
            return Fault is null; // every record published before we got the lock was resolved under it
        }
    }

    /// <inheritdoc/>
    public override long UnresolvedAfterFault() => Parts.Posting.Unconsumed(); // a ring's head moves only after resolution

    /// <inheritdoc/>
    public override long UndeliveredAfterFault() => 0; // a pass delivers (and counts) what it resolved before it ends, as in fused mode

    /// <inheritdoc/>
    protected override void Join()
    {
        lock (_gate)
        {
            _running = false; // a post in flight has finished its delivery; the rings are closed, none follows
        }
    }

    /// <summary>
    /// Resolves and delivers one source's records, or every ring's (<see cref="AllSources"/>), under the gate; an
    /// exception fails the engine, as on a pipeline thread, and the caller gets <see cref="EngineFaultedException"/>.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    private void PassOne(int source)
    {
        _delivering = true;
        try
        {
            if (source == AllSources)
            {
                DrainInline();
                Batcher.ThrowIfFailed();
                return;
            }

            PassOverRing(source);
        }
#pragma warning disable CA1031 // like a pipeline thread's failure: the engine fails, the poster is told
        catch (Exception ex)
#pragma warning restore CA1031
        {
            FailOnPostingThread(ex);
        }
        finally
        {
            _delivering = false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfNested()
    {
        if (_delivering)
        {
            ThrowNested();
        }
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowNested()
        => throw new InvalidOperationException("Inline mode: a post from the notifier is refused (it would run inside the delivery that called the notifier).");
}
