using IpiEngine.Rings;
using IpiEngine.Stages;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>
/// The gather stage's lazy doorbell protocol under bursts with pauses between them (so rings keep going quiet, bits get
/// cleared and rung again): the consumer visits only rung rings and, once producers stop, must still find every record.
/// A lost wake-up strands the records posted after it, which the final count catches.
/// </summary>
public class GatherStageTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(70)]
    public void Lazy_clearing_loses_no_wake_up_and_keeps_per_ring_order(int producers)
    {
        const int PerProducer = 3_000;
        var rings = new SpscRing<ExitRecord>[producers];
        for (int i = 0; i < producers; i++)
        {
            rings[i] = new SpscRing<ExitRecord>(32);
        }

        var doorbell = new DoorbellBitmap(producers);
        var gather = new GatherStage(rings, doorbell);
        var threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int me = p;
            threads[p] = new Thread(() => Produce(rings[me], doorbell, me, PerProducer));
            threads[p].Start();
        }

        var checker = new OrderChecker(producers);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (checker.Total < (long)producers * PerProducer && DateTime.UtcNow < deadline)
        {
            if (!gather.Pass(ref checker))
            {
                Thread.Yield();
            }
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.Equal((long)producers * PerProducer, checker.Total);
        Assert.Equal(0, checker.OutOfOrder);
        Assert.All(rings, ring => Assert.True(ring.IsEmpty));
        Assert.False(gather.Pass(ref checker)); // nothing left; this pass clears the last bits
        Assert.False(doorbell.AnySet);
    }

    private static void Produce(SpscRing<ExitRecord> ring, DoorbellBitmap doorbell, int me, int count)
    {
        var random = new Random(me);
        long next = 0;
        while (next < count)
        {
            int size = (int)Math.Min(random.Next(1, 8), count - next);
            int free = ring.FreeSpace(size);
            if (free == 0)
            {
                Thread.Yield();
                continue;
            }

            int n = Math.Min(size, free);
            for (int i = 0; i < n; i++)
            {
                ring.ProducerSlot(i) = new ExitRecord((ushort)me, 0, (ulong)(next + i), 0, 0, 0);
            }

            Assert.True(ring.TryPublish(n));
            doorbell.Ring(me);
            next += n;
            if (random.Next(16) == 0)
            {
                Thread.Sleep(0); // a pause: the consumer finds the ring empty and clears its bit
            }
        }
    }

    private struct OrderChecker(int rings) : ISpanConsumer
    {
        private readonly long[] _next = new long[rings];

        public long Total { get; private set; }

        public long OutOfOrder { get; private set; }

        public void Consume(ReadOnlySpan<ExitRecord> records)
        {
            foreach (ref readonly ExitRecord record in records)
            {
                if ((long)record.Value != _next[record.SourceVcpu]++)
                {
                    OutOfOrder++;
                }
            }

            Total += records.Length;
        }
    }
}
