using IpiEngine.Pipeline;
using Xunit;

namespace IpiEngine.Tests.Pipeline;

/// <summary>
/// A producer and two chained batch processors (the second follows the first through a barrier) under every wait
/// strategy: every value is seen by both stages in order, the second never overtakes the first, halting drains.
/// </summary>
public class ProcessorChainTests
{
    public static TheoryData<WaitStrategyKind> Strategies() => new(Enum.GetValues<WaitStrategyKind>());

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Two_stage_chain_sees_every_value_in_order(WaitStrategyKind kind)
    {
        const int Count = 20_000;
        var signal = new EventCount();
        WaitStrategy wait = WaitStrategy.For(kind);
        Assert.Equal(kind, wait.Kind);
        var ring = new RingBuffer<long>(256);
        var sequencer = new SingleProducerSequencer(256, wait, signal);
        var first = new BatchEventProcessor<long, OrderCheck>(ring, sequencer.NewBarrier(), signal, default);
        var second = new BatchEventProcessor<long, OrderCheck>(ring, sequencer.NewBarrier(first.Sequence), signal, default);
        sequencer.SetGatingSequences(second.Sequence);
        var threads = new[] { new Thread(first.Run) { IsBackground = true }, new Thread(second.Run) { IsBackground = true } };
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        var random = new Random(3);
        long next = 0;
        while (next < Count)
        {
            int size = (int)Math.Min(random.Next(1, 64), Count - next);
            long high = sequencer.Next(size);
            for (long s = high - size + 1; s <= high; s++)
            {
                ring[s] = next++;
            }

            sequencer.Publish(high - size + 1, high);
            if (random.Next(500) == 0)
            {
                Thread.Sleep(1); // let consumers go idle and park, so wake-ups are exercised
            }
        }

        Assert.True(SpinWait.SpinUntil(() => first.Sequence.Value == Count - 1, TimeSpan.FromSeconds(30)));
        first.Halt();
        Assert.True(threads[0].Join(TimeSpan.FromSeconds(30)));
        Assert.True(SpinWait.SpinUntil(() => second.Sequence.Value == Count - 1, TimeSpan.FromSeconds(30)));
        second.Halt();
        Assert.True(threads[1].Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(Count, first.Handler.Seen);
        Assert.Equal(Count, second.Handler.Seen);
        Assert.False(first.Handler.OutOfOrder);
        Assert.False(second.Handler.OutOfOrder);
    }

    [Fact]
    public void Running_a_processor_twice_is_refused()
    {
        var signal = new EventCount();
        var sequencer = new SingleProducerSequencer(8, BlockingWaitStrategy.Instance, signal);
        var processor = new BatchEventProcessor<long, OrderCheck>(new RingBuffer<long>(8), sequencer.NewBarrier(), signal, default);
        var thread = new Thread(processor.Run) { IsBackground = true };
        thread.Start();
        Assert.True(SpinWait.SpinUntil(() => signal.HasWaiters, TimeSpan.FromSeconds(10))); // parked: it is running
        Assert.Throws<InvalidOperationException>(processor.Run);
        processor.Halt();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Checks that values arrive as 0, 1, 2 ...</summary>
    internal struct OrderCheck : IBatchHandler<long>
    {
        public long Seen { get; private set; }
        public bool OutOfOrder { get; private set; }

        public void OnBatch(RingBuffer<long> ring, long first, long last)
        {
            for (long s = first; s <= last; s++)
            {
                OutOfOrder |= ring[s] != Seen;
                Seen++;
            }
        }
    }
}
