using CsCheck;
using IpiEngine.Pipeline;
using Xunit;

namespace IpiEngine.Tests.Pipeline;

/// <summary>Sequencers: claims never lap the gating consumer; the multi-producer one is linearizable (CsCheck).</summary>
public class SequencerTests
{
    [Fact]
    public void Single_producer_cannot_claim_past_the_slowest_gating_sequence()
    {
        var sequencer = new SingleProducerSequencer(8, BusySpinWaitStrategy.Instance, new EventCount());
        var consumer = new Sequence();
        sequencer.SetGatingSequences(consumer);
        Assert.True(sequencer.TryNext(8, out long high));
        Assert.Equal(7, high);
        Assert.False(sequencer.TryNext(1, out _));
        sequencer.Publish(0, 7);
        Assert.Equal(7, sequencer.Cursor.Value);
        consumer.SetValue(2); // consumed 0..2
        Assert.True(sequencer.TryNext(3, out high));
        Assert.Equal(10, high);
        Assert.False(sequencer.TryNext(1, out _));
    }

    [Fact]
    public void Multi_producer_publishes_only_complete_prefixes()
    {
        var sequencer = new MultiProducerSequencer(8, BusySpinWaitStrategy.Instance, new EventCount());
        Assert.True(sequencer.TryNext(2, out long first)); // 0..1
        Assert.True(sequencer.TryNext(2, out long second)); // 2..3
        Assert.Equal(1, first);
        Assert.Equal(3, second);
        sequencer.Publish(2, 3); // the later claim publishes first
        Assert.Equal(-1, sequencer.GetHighestPublishedSequence(0, 3));
        sequencer.Publish(0, 1);
        Assert.Equal(3, sequencer.GetHighestPublishedSequence(0, 3));
    }

    [Fact]
    public void Multi_producer_ring_is_linearizable_under_parallel_publishers()
    {
        Gen.Const(() => new SharedRing())
            .SampleParallel(
                Gen.Int.Operation<SharedRing>(i => $"Publish({i})", (ring, i) => ring.Publish(i)),
                equal: (a, b) => a.Published().SequenceEqual(b.Published()),
                print: ring => string.Join(',', ring.Published()),
                iter: 40);
    }

    [Fact]
    public void Next_waits_for_the_consumer_and_wrap_around_keeps_every_value()
    {
        var signal = new EventCount();
        var sequencer = new MultiProducerSequencer(16, YieldingWaitStrategy.Instance, signal);
        var ring = new RingBuffer<long>(16);
        var barrier = sequencer.NewBarrier();
        var processor = new BatchEventProcessor<long, SumHandler>(ring, barrier, signal, default);
        sequencer.SetGatingSequences(processor.Sequence);
        var consumer = new Thread(processor.Run);
        consumer.Start();
        const int PerProducer = 20_000;
        var producers = new Thread[4];
        for (int p = 0; p < producers.Length; p++)
        {
            producers[p] = new Thread(() =>
            {
                for (int i = 1; i <= PerProducer; i++)
                {
                    long high = sequencer.Next(1);
                    ring[high] = i;
                    sequencer.Publish(high, high);
                }
            });
            producers[p].Start();
        }

        foreach (Thread producer in producers)
        {
            producer.Join();
        }

        long last = sequencer.Cursor.Value;
        SpinWait.SpinUntil(() => processor.Sequence.Value == last, TimeSpan.FromSeconds(30));
        processor.Halt();
        Assert.True(consumer.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(producers.Length * (long)PerProducer * (PerProducer + 1) / 2, processor.Handler.Sum);
        Assert.Equal(producers.Length * (long)PerProducer, processor.Handler.Count);
    }

    /// <summary>A ring shared by parallel publishers; its published content in sequence order.</summary>
    public sealed class SharedRing
    {
        private readonly RingBuffer<int> _ring = new(64);
        private readonly MultiProducerSequencer _sequencer = new(64, BusySpinWaitStrategy.Instance, new EventCount());

        public void Publish(int value)
        {
            Assert.True(_sequencer.TryNext(1, out long sequence));
            _ring[sequence] = value;
            _sequencer.Publish(sequence, sequence);
        }

        public List<int> Published()
        {
            long high = _sequencer.GetHighestPublishedSequence(0, _sequencer.Cursor.Value);
            var values = new List<int>();
            for (long s = 0; s <= high; s++)
            {
                values.Add(_ring[s]);
            }

            return values;
        }
    }

    /// <summary>Sums a batch's values and counts them.</summary>
    public struct SumHandler : IBatchHandler<long>
    {
        public long Sum { get; private set; }
        public long Count { get; private set; }

        public void OnBatch(RingBuffer<long> ring, long first, long last)
        {
            for (long s = first; s <= last; s++)
            {
                Sum += ring[s];
                Count++;
            }
        }
    }
}
