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
    public void Next_waits_for_the_consumer_and_wrap_around_keeps_every_value_in_each_producers_order()
    {
        var signal = new EventCount();
        var sequencer = new MultiProducerSequencer(16, YieldingWaitStrategy.Instance, signal);
        var ring = new RingBuffer<long>(16);
        var barrier = sequencer.NewBarrier();
        const int Producers = 4;
        var processor = new BatchEventProcessor<long, OrderHandler>(ring, barrier, signal, new OrderHandler(Producers));
        sequencer.SetGatingSequences(processor.Sequence);
        var consumer = new Thread(processor.Run) { IsBackground = true };
        consumer.Start();
        const int PerProducer = 20_000;
        var producers = new Thread[Producers];
        for (int p = 0; p < producers.Length; p++)
        {
            long producer = p;
            producers[p] = new Thread(() =>
            {
                for (int i = 1; i <= PerProducer; i++)
                {
                    long high = sequencer.Next(1);
                    ring[high] = (producer << 32) | (uint)i; // tagged: which producer, and its i-th value
                    sequencer.Publish(high, high);
                }
            }) { IsBackground = true };
            producers[p].Start();
        }

        foreach (Thread producer in producers)
        {
            Assert.True(producer.Join(TimeSpan.FromSeconds(60)), "a producer did not finish within 60 s");
        }

        long last = sequencer.Cursor.Value;
        Assert.True(SpinWait.SpinUntil(() => processor.Sequence.Value == last, TimeSpan.FromSeconds(30)), "the consumer did not catch up within 30 s");
        processor.Halt();
        Assert.True(consumer.Join(TimeSpan.FromSeconds(30)));
        var handler = processor.Handler;
        Assert.True(handler.FirstDisorder is null, handler.FirstDisorder);
        // Each producer's values arrived exactly once, 1, 2, 3... in its order: none lost, doubled or reordered.
        Assert.All(handler.LastOf, lastOfProducer => Assert.Equal(PerProducer, lastOfProducer));
        Assert.Equal(producers.Length * (long)PerProducer, handler.Count);
    }

    [Fact]
    public void A_wrapping_ring_stays_linearizable_under_parallel_publishers()
    {
        Gen.Const(() => new WrappingRing())
            .SampleParallel(
                Gen.Int.Operation<WrappingRing>(i => $"Publish({i})", (ring, i) => ring.Publish(i)),
                equal: (a, b) => a.Taken().SequenceEqual(b.Taken()),
                print: ring => string.Join(',', ring.Taken()),
                iter: 40);
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

    /// <summary>
    /// A ring of 4 slots with a consumer: a publisher that finds it full takes the published prefix out (the consumer,
    /// serialized by a lock) and retries, so a sample of a few operations wraps the ring several times.
    /// </summary>
    public sealed class WrappingRing
    {
        private const int Slots = 4;
        private readonly RingBuffer<int> _ring = new(Slots);
        private readonly MultiProducerSequencer _sequencer = new(Slots, BusySpinWaitStrategy.Instance, new EventCount());
        private readonly Sequence _consumed = new();
        private readonly List<int> _taken = [];
        private readonly Lock _consumer = new();

        public WrappingRing() => _sequencer.SetGatingSequences(_consumed);

        public void Publish(int value)
        {
            long sequence;
            while (!_sequencer.TryNext(1, out sequence))
            {
                TakePublished();
                Thread.Yield(); // a slot claimed by another publisher is freed once that one publishes
            }

            _ring[sequence] = value;
            _sequencer.Publish(sequence, sequence);
        }

        /// <summary>Everything published, in sequence order (taking what is still in the ring).</summary>
        public List<int> Taken()
        {
            TakePublished();
            lock (_consumer)
            {
                return [.. _taken];
            }
        }

        private void TakePublished()
        {
            lock (_consumer)
            {
                long next = _consumed.Value + 1;
                long high = _sequencer.GetHighestPublishedSequence(next, _sequencer.Cursor.Value);
                for (long s = next; s <= high; s++)
                {
                    _taken.Add(_ring[s]);
                }

                _consumed.SetValue(Math.Max(high, next - 1));
            }
        }
    }

    /// <summary>Checks that each producer's tagged values arrive as 1, 2, 3...; counts them.</summary>
    internal struct OrderHandler(int producers) : IBatchHandler<long>
    {
        public long[] LastOf { get; } = new long[producers];
        public long Count { get; private set; }
        public string? FirstDisorder { get; private set; }

        public void OnBatch(RingBuffer<long> ring, long first, long last)
        {
            for (long s = first; s <= last; s++)
            {
                long value = ring[s];
                int producer = (int)(value >> 32);
                long i = (uint)value;
                if (producer >= LastOf.Length || i != LastOf[producer] + 1)
                {
                    FirstDisorder ??= $"sequence {s}: producer {producer}'s value {i} after {(producer < LastOf.Length ? LastOf[producer] : -1)}";
                }
                else
                {
                    LastOf[producer] = i;
                }

                Count++;
            }
        }
    }
}
