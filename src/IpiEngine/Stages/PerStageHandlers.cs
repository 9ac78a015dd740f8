using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Stages;

/// <summary>Per-stage mode's sink: resolved deliveries go into the delivery ring.</summary>
internal readonly struct PublisherSink(DeliveryPublisher publisher) : IResolvedSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in ExitRecord record, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
        => publisher.Add(new RemoteDelivery(record.Tag, record.PostTimestamp, sourceVcpu, destinationVcpu, icrLow, icrDestination));

    public bool GathersLocalBits => false; // every delivery is a slot of the delivery ring

    public void AddLocalVectored(int destinationVcpu, uint icrLow) => ThrowNotGathering();

    public void Counted(int deliveries)
    {
        // Each delivery is a slot of the delivery ring, claimed as it comes.
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowNotGathering()
        => throw new InvalidOperationException("The per-stage sink publishes every delivery: it gathers no vector bits.");
}

/// <summary>Per-stage mode's resolve processor: each available batch of exit records into the delivery ring.</summary>
internal readonly struct ResolveHandler(ResolveStage resolve, DeliveryPublisher publisher) : IBatchHandler<ExitRecord>
{
    [MethodImpl(HotPath.Optimized)]
    public void OnBatch(RingBuffer<ExitRecord> ring, long first, long last)
    {
        var sink = new PublisherSink(publisher);
        for (long sequence = first; sequence <= last; sequence++)
        {
            resolve.Resolve(ring[sequence], ref sink);
        }

        publisher.Commit();
        resolve.PublishCounters();
    }
}

/// <summary>
/// Per-stage mode's deliver processor: each available batch of deliveries grouped and delivered, in pieces of at most
/// <see cref="DeliveryBatcher{TNotifier}.FlushLimit"/> (the batcher's own flush size). <paramref name="counted"/> is the
/// last delivery counted (delivered, coalesced, forwarded ...): after a failure, the ones after it were never delivered.
/// </summary>
internal readonly struct DeliverHandler<TNotifier>(DeliveryBatcher<TNotifier> batcher, Sequence counted) : IBatchHandler<RemoteDelivery>
    where TNotifier : struct, IDeliveryNotifier
{
    [MethodImpl(HotPath.Optimized)]
    public void OnBatch(RingBuffer<RemoteDelivery> ring, long first, long last)
    {
        for (long start = first; start <= last; start += DeliveryBatcher<TNotifier>.FlushLimit)
        {
            long end = Math.Min(last, start + DeliveryBatcher<TNotifier>.FlushLimit - 1);
            for (long sequence = start; sequence <= end; sequence++)
            {
                batcher.Add(ring[sequence]);
            }

            batcher.Flush(); // counts the piece (a no-op if the last Add reached the limit and flushed it)
            counted.SetValue(end); // release: read after the thread is joined
        }

        batcher.ThrowIfFailed(); // a kept failure (fail-fast notifier, forwarder): after the batch is counted
    }
}

/// <summary>
/// Per-stage mode's gather consumer: copies each run into the exit-record ring and publishes it, in pieces of at most
/// half the ring. Once the ring's consumers stopped (the sequencer is aborted after a stage failed), it returns how many
/// records it published: the gather moves the vCPU ring's head past exactly those, so that each record is in one place
/// when the fault is counted (published ones in the record ring, the rest in the vCPU ring), never in both.
/// </summary>
internal readonly struct CopyConsumer(RingBuffer<ExitRecord> ring, SingleProducerSequencer sequencer) : ISpanConsumer
{
    [MethodImpl(HotPath.Optimized)]
    public int Consume(ReadOnlySpan<ExitRecord> records)
    {
        int chunk = ring.BufferSize / 2; // a run may be longer than the ring: claim it in pieces
        for (int start = 0; start < records.Length; start += chunk)
        {
            ReadOnlySpan<ExitRecord> piece = records.Slice(start, Math.Min(chunk, records.Length - start));
            if (!sequencer.NextUnlessAborted(piece.Length, out long high))
            {
                return start; // aborted: the pieces before this one are published, this one and the rest are not
            }

            long low = high - piece.Length + 1;
            for (int i = 0; i < piece.Length; i++)
            {
                ring[low + i] = piece[i];
            }

            sequencer.Publish(low, high); // before the SPSC head moves: a topology writer relies on that order
        }

        return records.Length;
    }
}
