using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Stages;

/// <summary>
/// Everything both threading modes share, generic over the notifier so that its call inlines: the stages, the one run
/// loop with its idle policy and drain, the stop and fault handshake with the threads, remote injection. A mode adds
/// only its threads (<see cref="FusedPipeline{TNotifier}"/>: one; <see cref="PerStagePipeline{TNotifier}"/>: three;
/// <see cref="InlinePipeline{TNotifier}"/>: none, the posting thread runs the stages).
/// </summary>
internal abstract class EnginePipeline<TNotifier> : IEnginePipeline where TNotifier : struct, IDeliveryNotifier
{
    private volatile bool _stopping;
    private readonly Lock _remoteGate; // DeliverRemote's, for its whole call: the log's LateAppendGate when there is a log
    private readonly DeliveryBatcher<TNotifier> _injection;
    private readonly StageCounters _injectionCounters = new();
    private readonly int _vcpuCount;
    private readonly StageCounters[] _counters;

    protected EnginePipeline(PipelineParts parts, TNotifier notifier)
    {
        ArgumentNullException.ThrowIfNull(parts);
        Parts = parts;
        _remoteGate = parts.Log?.LateAppendGate ?? new Lock(); // its appends are the ones that go on after the stop
        Gather = new GatherStage(parts.Rings, parts.Doorbell, minPassClearInterval: GatherStage.DefaultMinPassClearInterval);
        ResolveCounters = new StageCounters();
        DeliverCounters = new StageCounters();
        GatherCounters = new StageCounters();
        Resolve = new ResolveStage(parts.Resolver, ResolveCounters);
        Batcher = new DeliveryBatcher<TNotifier>(parts.Descriptors, notifier, parts.Log, DeliverCounters,
            parts.Placement, parts.Forwarder, parts.LocalTargets, injection: false, parts.NotifierFaults, parts.StampDeliveries);
        _injection = new DeliveryBatcher<TNotifier>(parts.Descriptors, notifier, parts.Log, _injectionCounters,
            null, null, LocalTargets.Engine, injection: true, parts.NotifierFaults, parts.StampDeliveries);
        _vcpuCount = parts.Descriptors.VcpuCount;
        _counters = [GatherCounters, ResolveCounters, DeliverCounters, _injectionCounters];
    }

    /// <inheritdoc/>
    public StageCounters[] Counters => _counters;

    protected PipelineParts Parts { get; }

    protected GatherStage Gather { get; }

    protected ResolveStage Resolve { get; }

    protected DeliveryBatcher<TNotifier> Batcher { get; }

    protected StageCounters ResolveCounters { get; }

    protected StageCounters DeliverCounters { get; }

    /// <summary>
    /// The run loop's own counts (<see cref="CounterSlot.ThinPassWaits"/>), written only by the gathering thread: in
    /// per-stage mode the resolve counters belong to the resolve thread, and an assisting poster never runs the loop.
    /// </summary>
    protected StageCounters GatherCounters { get; }

    /// <summary>
    /// Fused mode with <see cref="EngineOptions.AssistIdlePipeline"/>: the consumer role that a parked pipeline thread
    /// lends to posters (<see cref="IdleAssist"/>); null otherwise, and the run loop keeps the role to itself. Internal
    /// for the protocol's step-by-step tests.
    /// </summary>
    internal IdleAssist? Assist { get; private protected init; }

    /// <summary>Set by <see cref="StopAndJoin"/> or a fault: the threads drain and exit.</summary>
    protected bool Stopping => _stopping;

    /// <summary>The failure that stopped the pipeline, if any (kept by the producer side, which it closed).</summary>
    protected Exception? Fault => Parts.Posting.Fault;

    /// <inheritdoc/>
    public abstract void Start();

    /// <inheritdoc/>
    public abstract bool WaitResolved(ReadOnlySpan<long> publishedSnapshot);

    /// <inheritdoc/>
    public abstract long UnresolvedAfterFault();

    /// <inheritdoc/>
    public abstract long UndeliveredAfterFault();

    /// <inheritdoc/>
    public void StopAndJoin()
    {
        _stopping = true;
        Wake();
        Join();
    }

    /// <summary>Waits for the pipeline threads to exit.</summary>
    protected abstract void Join();

    /// <summary>A thread failed: release the other threads from waits that its progress would have ended.</summary>
    protected virtual void OnFault()
    {
    }

    /// <summary>
    /// Starts pipeline thread <paramref name="index"/> (pipeline order) named <paramref name="name"/>: it pins itself to
    /// its CPU of <see cref="PipelineParts.Cpus"/> when one is set (a failure faults the engine with the reason), then
    /// runs <paramref name="body"/> under <see cref="Guard"/>.
    /// </summary>
    protected Thread StartThread(int index, string name, Action body)
    {
        int cpu = Parts.Cpus is { } cpus ? cpus[index] : -1;
        var thread = new Thread(() => Guard(() =>
        {
            if (cpu >= 0 && !ThreadAffinity.TryPinCurrentThread(cpu))
            {
                throw new InvalidOperationException($"The {name} thread could not be pinned to CPU {cpu} (EngineOptions.PipelineCpus): sched_setaffinity failed, errno {ThreadAffinity.LastError}.");
            }

            body();
        }))
        { IsBackground = true, Name = name };
        thread.Start();
        return thread;
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
    /// The pipeline failed (any thread): close the producers' rings with the original failure (from now on every post
    /// throws <see cref="EngineFaultedException"/>; the first failure is kept), release the other threads, let them exit.
    /// </summary>
    protected void Fail(Exception failure)
    {
        Parts.Posting.Close(failure is EngineFaultedException { InnerException: { } inner } ? inner : failure);
        _stopping = true;
        OnFault();
        Wake();
    }

    /// <summary>
    /// A pass on a posting thread failed (Inline mode, fused mode's idle assist): the engine fails as for a pipeline
    /// thread, and the poster gets <see cref="EngineFaultedException"/> with the first failure inside.
    /// </summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    protected void FailOnPostingThread(Exception failure)
    {
        Fail(failure);
        Parts.Posting.ThrowClosed();
    }

    /// <summary>One fused pass (gather, resolve, batch, deliver) on the calling thread; returns whether it found work.</summary>
    [MethodImpl(HotPath.Optimized)]
    protected bool FusedPass()
    {
        var consumer = new FusedConsumer<TNotifier>(Resolve, Batcher);
        if (!Gather.Pass(ref consumer))
        {
            return false;
        }

        Resolve.PublishCounters();
        Batcher.Flush();
        Parts.Signal.Signal(); // producers waiting for room and topology writers waiting for progress may be parked
        Batcher.ThrowIfFailed(); // a kept failure (fail-fast notifier, forwarder): after the batch is counted
        return true;
    }

    /// <summary>
    /// Resolves and delivers the records of one ring (at most <paramref name="limit"/>) as one batch, on the calling
    /// thread, which holds the consumer role (Inline mode's lock, fused mode's <see cref="IdleAssist"/>). Signals
    /// nobody: the only producer that could wait for this ring's room is the caller, and a parked pipeline thread must
    /// stay parked.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    protected void PassOverRing(int source, long limit = long.MaxValue)
    {
        var consumer = new FusedConsumer<TNotifier>(Resolve, Batcher);
        Gather.DrainRing(source, ref consumer, limit);
        Resolve.PublishCounters();
        Batcher.Flush();
        Batcher.ThrowIfFailed(); // a kept failure (fail-fast notifier, forwarder): after the batch is counted
    }

    /// <inheritdoc/>
    public void DrainInline()
    {
        var pass = new FusedRun(this);
        Drain(ref pass);
    }

    /// <summary>
    /// The one run loop of a gathering thread, for the fused and per-stage modes: passes while there is work, the idle policy (the wait
    /// strategy, woken by a doorbell or the stop) when there is none, and once stopping the one drain.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    protected void RunLoop<TPass>(ref TPass pass) where TPass : struct, IGatherPass
    {
        var idle = new Idle(this);
        var arrivals = new ArrivalRate(Stopwatch.GetTimestamp());
        WaitStrategy wait = Assist is null ? Parts.Wait : Parts.Wait.ForAssistedGathering;
        while (!Stopping)
        {
            if (!pass.Run())
            {
                wait.WaitUntil(ref idle, Parts.Signal);
                Assist?.TakeBack(); // passes and the drain run holding the consumer role (IdleAssist)
                arrivals.Count(0);
            }
            else
            {
                int taken = Gather.LastPassRecords;
                if (arrivals.Count(taken) && taken < GatherStage.ThinPassRecords)
                {
                    GatherCounters.Add(CounterSlot.ThinPassWaits, 1);
                    BackOffAfterThinPass();
                }
            }
        }

        Drain(ref pass);
    }

    /// <summary>How long a gathering thread spins after a thin pass before the next (<see cref="BackOffAfterThinPass"/>): 2 µs.</summary>
    private static readonly long ThinPassBackoffTicks = Stopwatch.Frequency * 2 / 1_000_000;

    /// <summary>
    /// After a pass that took fewer than <see cref="GatherStage.ThinPassRecords"/> records while records stream in
    /// (<see cref="ArrivalRate"/>): spins for 2 µs (<see cref="ThinPassBackoffTicks"/>) before the next pass. The producers are still writing those rings; a pass at once
    /// reads their tails and slots again and takes each line back from a producer that must then take it back to write
    /// the next record, a round trip of 350 ns when this machine's cores are far. After every thin pass, letting records
    /// gather for 2 µs moved one record per post from 47-50 to 60-67 M IPIs/s near and from 26-28 to 33 M far (8
    /// vCPUs) but cost the closed loops 16-21% of their round trips; gated on the arrival rate, one record per post
    /// read 67-69 against 48-51 M near and 29-35 against 25-26 M far, the closed loops unchanged (docs/performance-log.md,
    /// thirty-first session). A thick pass, and a pass that found nothing (the wait strategy's turn), go on at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void BackOffAfterThinPass()
    {
        long until = Stopwatch.GetTimestamp() + ThinPassBackoffTicks;
        do
        {
            Thread.SpinWait(8);
        }
        while (Stopwatch.GetTimestamp() < until);
    }

    /// <summary>
    /// The one drain: passes until every vCPU ring is empty. Final once the rings are closed (Stop closes them before
    /// it asks the threads to drain), since nothing can be published after.
    /// </summary>
    protected void Drain<TPass>(ref TPass pass) where TPass : struct, IGatherPass
    {
        while (pass.Run() || !Gather.AllEmpty)
        {
        }
    }

    /// <summary>Fused mode's pass: gather, resolve, batch and deliver on the calling thread.</summary>
    protected readonly struct FusedRun(EnginePipeline<TNotifier> pipeline) : IGatherPass
    {
        public bool Run() => pipeline.FusedPass();
    }

    /// <summary>
    /// The idle condition of a gathering thread: a rung ring holds records, or the engine is stopping. Before parking it
    /// clears its idle doorbell bits, so that the next post into any of those rings rings the bell and signals, and, with
    /// the idle assist, lends the consumer role to posters (taking it back first when an earlier park of the same wait lent it).
    /// </summary>
    private readonly struct Idle(EnginePipeline<TNotifier> pipeline) : IWaitCondition
    {
        public bool IsSatisfied => pipeline.Gather.HasWork || pipeline.Stopping || pipeline.Assist is { WakeRequested: true }; // snapshots only: safe while a poster assists

        public void BeforePark()
        {
            IdleAssist? assist = pipeline.Assist;
            assist?.TakeBackToPark(); // a wake request stays standing for the re-check after the registration
            pipeline.Gather.ReleaseIdleBells();
            assist?.Release();
        }
    }

    /// <inheritdoc/>
    [MethodImpl(HotPath.Optimized)]
    public void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries)
    {
        lock (_remoteGate)
        {
            long rejected = 0;
            foreach (ref readonly RemoteDelivery delivery in deliveries)
            {
                int destination = (int)delivery.DestinationVcpu;
                bool local = (uint)destination < (uint)_vcpuCount && (Parts.Placement?.IsLocal(destination) ?? true);
                bool deliverable = delivery.DeliveryMode is not (DeliveryMode.Reserved3 or DeliveryMode.Reserved7);
                if (local && deliverable)
                {
                    _injection.Add(delivery);
                }
                else
                {
                    rejected++;
                }
            }

            _injection.Flush();
            _injectionCounters.Add(CounterSlot.RemoteRejected, rejected);
            try
            {
                _injection.ThrowIfFailed(); // a kept failure (fail-fast notifier): the deliveries are counted; the engine fails
            }
            catch (EngineFaultedException e)
            {
                Fail(e);
                throw;
            }
        }
    }

    /// <summary>
    /// Waits until every ring's consumer has passed its snapshot (the gathering thread moves a ring's head only after
    /// the records' effects: resolution in fused mode, publication into the record ring in per-stage mode); false if
    /// the pipeline stopped or failed meanwhile.
    /// </summary>
    protected bool WaitRingsConsumedPast(ReadOnlySpan<long> snapshot)
    {
        for (int i = 0; i < snapshot.Length; i++)
        {
            while (Parts.Rings[i].ConsumedCount < snapshot[i])
            {
                if (Stopping || Fault is not null)
                {
                    return false;
                }

                Thread.Yield(); // rare (topology writes): the pipeline thread needs the core more than we do
            }
        }

        return true;
    }

    /// <summary>Wakes every parked pipeline thread.</summary>
    private void Wake() => Parts.Signal.SignalAll();
}
