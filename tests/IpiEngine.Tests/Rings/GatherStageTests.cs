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
    [InlineData(1, 1)]
    [InlineData(8, 1)]
    [InlineData(70, 1)]
    [InlineData(8, GatherStage.DefaultClearAfterEmptyVisits)]
    [InlineData(70, GatherStage.DefaultClearAfterEmptyVisits)]
    public void Lazy_clearing_loses_no_wake_up_and_keeps_per_ring_order(int producers, int clearAfterEmptyVisits)
    {
        const int PerProducer = 3_000;
        var rings = new SpscRing<ExitRecord>[producers];
        for (int i = 0; i < producers; i++)
        {
            rings[i] = new SpscRing<ExitRecord>(32);
        }

        var doorbell = new DoorbellBitmap(producers);
        var gather = new GatherStage(rings, doorbell, clearAfterEmptyVisits);
        var threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int me = p;
            threads[p] = new Thread(() => Produce(rings[me], doorbell, me, PerProducer)) { IsBackground = true };
            threads[p].Start();
        }

        var checker = new OrderChecker(producers);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long countedByPasses = 0; // what the passes say they took (the pipeline backs off after a thin one)
        while (checker.Total < (long)producers * PerProducer && DateTime.UtcNow < deadline)
        {
            if (!gather.Pass(ref checker))
            {
                Assert.Equal(0, gather.LastPassRecords);
                Thread.Yield();
            }
            else
            {
                Assert.InRange(gather.LastPassRecords, 1, producers * GatherStage.RingBudget);
                countedByPasses += gather.LastPassRecords;
            }
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), $"{thread.Name ?? "a thread"} did not finish within 60 s");
        }

        Assert.Equal((long)producers * PerProducer, checker.Total);
        Assert.Equal(checker.Total, countedByPasses);
        Assert.Equal(0, checker.OutOfOrder);
        Assert.All(rings, ring => Assert.True(ring.IsEmpty));
        Assert.False(gather.Pass(ref checker)); // nothing left
        gather.ReleaseIdleBells(); // what the gathering thread does before it parks: every idle bit goes
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

    [Fact]
    public void A_consumer_aborted_part_way_returns_only_what_it_consumed_and_the_rest_stays_in_the_ring()
    {
        var ring = new SpscRing<ExitRecord>(16);
        var doorbell = new DoorbellBitmap(1);
        var gather = new GatherStage([ring], doorbell);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(ring.TryWrite(ExitRecord.Create(0, 0x830, (ulong)i, 0)));
        }

        doorbell.Ring(0);
        var consumer = new PartialConsumer(4);
        Assert.Throws<OperationCanceledException>(() => gather.Pass(ref consumer));
        Assert.Equal(4, ring.ConsumedCount); // the six it did not take are still there, each in one place
        Assert.Equal(10, ring.PublishedCount);
    }

    [Fact]
    public void Passes_clear_idle_bells_at_most_once_per_interval_and_releasing_them_before_parking_always_clears()
    {
        var rings = new[] { new SpscRing<ExitRecord>(16), new SpscRing<ExitRecord>(16) };
        var doorbell = new DoorbellBitmap(2);
        var gather = new GatherStage(rings, doorbell, clearAfterEmptyVisits: 1, minPassClearInterval: TimeSpan.FromHours(1));
        var consumer = new PartialConsumer(int.MaxValue);

        // The first clear is due at once: both bells rung, both rings empty, one pass clears both.
        doorbell.Ring(0);
        doorbell.Ring(1);
        Assert.False(gather.Pass(ref consumer));
        Assert.Equal(0, doorbell.PopCount());

        // Within the interval passes leave an idle bell set, however many empty visits it gets.
        Assert.True(rings[0].TryWrite(ExitRecord.Create(0, 0x830, 1, 0)));
        doorbell.Ring(0);
        Assert.True(gather.Pass(ref consumer));
        for (int i = 0; i < 300; i++) // past the byte counter's range: it saturates rather than wrapping
        {
            Assert.False(gather.Pass(ref consumer));
        }

        Assert.Equal(1, doorbell.PopCount());

        // Before parking, every idle bell is released regardless of the interval.
        gather.ReleaseIdleBells();
        Assert.Equal(0, doorbell.PopCount());
        Assert.False(gather.HasWork);
    }

    /// <summary>Takes the first <paramref name="limit"/> records it is offered, then reports itself aborted.</summary>
    private struct PartialConsumer(int limit) : ISpanConsumer
    {
        private int _left = limit;

        public int Consume(ReadOnlySpan<ExitRecord> records)
        {
            int taken = Math.Min(_left, records.Length);
            _left -= taken;
            return taken;
        }
    }

    private struct OrderChecker(int rings) : ISpanConsumer
    {
        private readonly long[] _next = new long[rings];

        public long Total { get; private set; }

        public long OutOfOrder { get; private set; }

        public int Consume(ReadOnlySpan<ExitRecord> records)
        {
            foreach (ref readonly ExitRecord record in records)
            {
                if ((long)record.Value != _next[record.SourceVcpu]++)
                {
                    OutOfOrder++;
                }
            }

            Total += records.Length;
            return records.Length;
        }
    }
}
