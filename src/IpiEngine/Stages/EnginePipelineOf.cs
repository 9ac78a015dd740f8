using IpiEngine.Apic;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>The parts both threading modes share, generic over the notifier so that its call inlines.</summary>
internal abstract class EnginePipeline<TNotifier> : EnginePipeline where TNotifier : struct, IDeliveryNotifier
{
    private readonly Lock _remoteGate = new();
    private readonly DeliveryBatcher<TNotifier> _injection;
    private readonly StageCounters _injectionCounters = new();
    private readonly int _vcpuCount;
    private readonly StageCounters[] _counters;

    protected EnginePipeline(PipelineParts parts, TNotifier notifier)
        : base(parts.Posting)
    {
        Parts = parts;
        Gather = new GatherStage(parts.Rings, parts.Doorbell);
        ResolveCounters = new StageCounters();
        DeliverCounters = new StageCounters();
        Resolve = new ResolveStage(parts.Resolver, ResolveCounters);
        Batcher = new DeliveryBatcher<TNotifier>(parts.Descriptors, notifier, parts.Log, DeliverCounters,
            parts.Placement, parts.Forwarder, parts.LocalTargets, injection: false, parts.NotifierFaults);
        _injection = new DeliveryBatcher<TNotifier>(parts.Descriptors, notifier, parts.Log, _injectionCounters,
            null, null, LocalTargets.Engine, injection: true, parts.NotifierFaults);
        _vcpuCount = parts.Descriptors.VcpuCount;
        _counters = [ResolveCounters, DeliverCounters, _injectionCounters];
    }

    /// <inheritdoc/>
    public override StageCounters[] Counters => _counters;

    protected PipelineParts Parts { get; }

    protected GatherStage Gather { get; }

    protected ResolveStage Resolve { get; }

    protected DeliveryBatcher<TNotifier> Batcher { get; }

    protected StageCounters ResolveCounters { get; }

    protected StageCounters DeliverCounters { get; }

    /// <summary>One fused pass (gather, resolve, batch, deliver) on the calling thread; returns whether it found work.</summary>
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
        Batcher.ThrowIfNotifierFailed(); // fail-fast policy: after the batch is counted
        return true;
    }

    /// <inheritdoc/>
    public override void DrainInline()
    {
        while (FusedPass() || !Gather.AllEmpty)
        {
        }
    }

    /// <inheritdoc/>
    public override void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries)
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
                _injection.ThrowIfNotifierFailed(); // fail-fast policy: the deliveries are counted; the engine fails
            }
            catch (EngineFaultedException e)
            {
                Fail(e);
                throw;
            }
        }
    }

    /// <summary>Whether every ring's consumer has passed its snapshot.</summary>
    protected bool RingsConsumedPast(ReadOnlySpan<long> snapshot)
    {
        for (int i = 0; i < snapshot.Length; i++)
        {
            if (Parts.Rings[i].ConsumedCount < snapshot[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    protected override void Wake() => Parts.Signal.SignalAll();
}
