using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Stages;

/// <summary>
/// Per-stage mode: a gather thread (SPSC rings into the exit-record ring, the single producer), a resolve processor
/// (exit records into the delivery ring) and a batch+deliver processor, each on its own thread, linked by our Disruptor.
/// Scales with cores; on few cores fused mode costs less.
/// </summary>
internal sealed class PerStagePipeline<TNotifier> : EnginePipeline<TNotifier> where TNotifier : struct, IDeliveryNotifier
{
    private readonly RingBuffer<ExitRecord> _records;
    private readonly SingleProducerSequencer _recordSequencer;
    private readonly SingleProducerSequencer _deliverySequencer;
    private readonly BatchEventProcessor<ExitRecord, ResolveHandler> _resolveProcessor;
    private readonly BatchEventProcessor<RemoteDelivery, DeliverHandler<TNotifier>> _deliverProcessor;
    private readonly Sequence _deliveriesCounted = new();
    private readonly Thread[] _threads = new Thread[3];

    public PerStagePipeline(PipelineParts parts, TNotifier notifier)
        : base(parts, notifier)
    {
        int size = parts.PipelineRingSize;
        _records = new RingBuffer<ExitRecord>(size);
        _recordSequencer = new SingleProducerSequencer(size, parts.Wait, parts.Signal);
        var deliveries = new RingBuffer<RemoteDelivery>(size);
        _deliverySequencer = new SingleProducerSequencer(size, parts.Wait, parts.Signal);
        var publisher = new DeliveryPublisher(deliveries, _deliverySequencer, ResolveCounters);
        _resolveProcessor = new BatchEventProcessor<ExitRecord, ResolveHandler>(
            _records, _recordSequencer.NewBarrier(), parts.Signal, new ResolveHandler(Resolve, publisher));
        _recordSequencer.SetGatingSequences(_resolveProcessor.Sequence);
        _deliverProcessor = new BatchEventProcessor<RemoteDelivery, DeliverHandler<TNotifier>>(
            deliveries, _deliverySequencer.NewBarrier(), parts.Signal, new DeliverHandler<TNotifier>(Batcher, _deliveriesCounted));
        _deliverySequencer.SetGatingSequences(_deliverProcessor.Sequence);
    }

    /// <inheritdoc/>
    public override void Start()
    {
        _threads[0] = StartThread(0, "ipi-gather", RunGather);
        _threads[1] = StartThread(1, "ipi-resolve", _resolveProcessor.Run);
        _threads[2] = StartThread(2, "ipi-deliver", _deliverProcessor.Run);
    }

    /// <inheritdoc/>
    public override bool WaitResolved(ReadOnlySpan<long> publishedSnapshot)
    {
        // First the gather thread must have taken each ring past the snapshot (it publishes into the record ring
        // before moving a ring's head), then the resolve processor must have passed everything published by then.
        if (!WaitRingsConsumedPast(publishedSnapshot))
        {
            return false;
        }

        long gathered = _recordSequencer.Cursor.Value;
        while (_resolveProcessor.Sequence.Value < gathered)
        {
            if (Stopping || Fault is not null)
            {
                return false;
            }

            Thread.Yield();
        }

        return true;
    }

    /// <inheritdoc/>
    public override long UnresolvedAfterFault()
        => Parts.Posting.Unconsumed() + (_recordSequencer.Cursor.Value - _resolveProcessor.Sequence.Value); // rings, then gathered but not resolved

    /// <inheritdoc/>
    public override long UndeliveredAfterFault()
        => _deliverySequencer.Cursor.Value - _deliveriesCounted.Value; // published into the delivery ring, never counted

    /// <inheritdoc/>
    protected override void Join()
    {
        // In pipeline order, so that each stage drains what the previous one left before it is halted.
        _threads[0]?.Join();
        _resolveProcessor.Halt();
        _threads[1]?.Join();
        _deliverProcessor.Halt();
        _threads[2]?.Join();
    }

    /// <inheritdoc/>
    protected override void OnFault()
    {
        // A stage died: nobody will free room downstream of it, so no stage may wait for room any more, and the
        // processors stop once they have handled what they can see.
        _recordSequencer.Abort();
        _deliverySequencer.Abort();
        _resolveProcessor.Halt();
        _deliverProcessor.Halt();
    }

    private void RunGather()
    {
        var pass = new CopyRun(Gather, new CopyConsumer(_records, _recordSequencer), Parts.Signal);
        RunLoop(ref pass);
    }

    /// <summary>The gather thread's pass: copy each rung ring's records into the exit-record ring.</summary>
    private struct CopyRun(GatherStage gather, CopyConsumer consumer, EventCount signal) : IGatherPass
    {
        private CopyConsumer _consumer = consumer;

        public bool Run()
        {
            if (!gather.Pass(ref _consumer))
            {
                return false;
            }

            signal.Signal(); // producers waiting for room may be parked
            return true;
        }
    }
}
