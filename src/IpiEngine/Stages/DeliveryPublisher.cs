using System.Runtime.CompilerServices;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Stages;

/// <summary>
/// Per-stage mode: the resolve thread's writer into the delivery ring. Claims sequences in chunks from the single
/// producer sequencer, writes deliveries, and publishes what it wrote once per batch (or before waiting for room, so
/// the deliver thread can always make progress). Once the deliver thread has failed (the sequencer is aborted), nothing
/// will free room: each further delivery is counted as undelivered instead of written.
/// </summary>
internal sealed class DeliveryPublisher
{
    private const int Chunk = 256;
    private readonly RingBuffer<RemoteDelivery> _ring;
    private readonly SingleProducerSequencer _sequencer;
    private readonly StageCounters _counters;
    private bool _aborted;
    private long _next;
    private long _claimedHigh = Sequence.InitialValue;
    private long _publishedHigh = Sequence.InitialValue;

    public DeliveryPublisher(RingBuffer<RemoteDelivery> ring, SingleProducerSequencer sequencer, StageCounters counters)
    {
        _ring = ring;
        _sequencer = sequencer;
        _counters = counters;
    }

    /// <summary>Writes one delivery (visible to the deliver thread at the next <see cref="Commit"/>).</summary>
    [MethodImpl(HotPath.Inlined)]
    public void Add(in RemoteDelivery delivery)
    {
        if (_next > _claimedHigh && !Refill())
        {
            return; // the deliver thread failed: counted as undelivered
        }

        _ring[_next++] = delivery;
    }

    /// <summary>Publishes everything written so far with one release store.</summary>
    [MethodImpl(HotPath.Optimized)]
    public void Commit()
    {
        long high = _next - 1;
        if (high > _publishedHigh)
        {
            _sequencer.Publish(_publishedHigh + 1, high);
            _publishedHigh = high;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private bool Refill()
    {
        Commit(); // before waiting: the deliver thread frees room only for what it can see
        if (!_aborted && _sequencer.NextUnlessAborted(Math.Min(Chunk, _ring.BufferSize), out long high))
        {
            _claimedHigh = high;
            return true;
        }

        _aborted = true;
        _counters.Add(CounterSlot.Undelivered, 1); // resolved (and counted so by this thread), never to be delivered
        return false;
    }
}
