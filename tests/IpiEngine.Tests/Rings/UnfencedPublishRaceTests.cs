using System.Diagnostics;
using IpiEngine.Pipeline;
using IpiEngine.Posting;
using IpiEngine.Rings;
using IpiEngine.Stages;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>
/// The windows that the unfenced publish opens (issue 19): a producer's release store of its tail and its later plain
/// loads (the doorbell word, the close flag) may pass each other, and only the rare side's process-wide barrier orders
/// them. (1) Producers ping-pong with a consumer that clears its doorbell bits and parks after every empty look: each
/// record must be taken within a bound, with the park timeout raised to 30 s so that a lost wake-up stalls instead of
/// being rescued. (2) Producers race one or two closers: every record is either drained or refused, never both, never
/// neither, and nothing past the seal is counted.
/// </summary>
public class UnfencedPublishRaceTests
{
    private static readonly TimeSpan RecordBound = TimeSpan.FromSeconds(10); // far below the 30 s a lost wake-up stalls for

    [Theory]
    [InlineData(1, 1, WaitStrategyKind.Blocking)]
    [InlineData(3, 1, WaitStrategyKind.Blocking)]
    [InlineData(3, GatherStage.DefaultClearAfterEmptyVisits, WaitStrategyKind.Blocking)]
    [InlineData(3, 1, WaitStrategyKind.Hybrid)]
    [InlineData(70, 2, WaitStrategyKind.Blocking)]
    public void Every_record_is_taken_within_a_bound_while_the_consumer_clears_its_bells_and_parks(
        int producers, int clearAfterEmptyVisits, WaitStrategyKind kind)
    {
        var rings = new SpscRing<ExitRecord>[producers];
        for (int i = 0; i < producers; i++)
        {
            rings[i] = new SpscRing<ExitRecord>(16);
        }

        var doorbell = new DoorbellBitmap(producers);
        var gather = new GatherStage(rings, doorbell, clearAfterEmptyVisits);
        var signal = new EventCount(parkTimeoutMilliseconds: 30_000);
        var state = new ConsumerState();
        var consumer = new Thread(() => Consume(gather, signal, WaitStrategy.For(kind), state)) { IsBackground = true };
        consumer.Start();

        var failures = new string?[producers];
        var rounds = new long[producers];
        var threads = new Thread[producers];
        var clock = Stopwatch.StartNew();
        for (int p = 0; p < producers; p++)
        {
            int me = p;
            threads[p] = new Thread(() => failures[me] = PingPong(rings[me], doorbell, signal, me, clock, out rounds[me])) { IsBackground = true };
            threads[p].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a producer did not finish within 60 s");
        }

        state.Stop = true;
        signal.SignalAll();
        Assert.True(consumer.Join(TimeSpan.FromSeconds(30)), "the consumer did not stop");
        Assert.All(failures, failure => Assert.Null(failure));
        Assert.Equal(rounds.Sum(), state.Consumed);
        Assert.Equal(0, state.OutOfOrder);
        if (kind == WaitStrategyKind.Blocking)
        {
            Assert.True(state.Parks > 0, "the consumer never parked: the window under test was not exercised"); // it parks at every empty look
        }
    }

    /// <summary>Posts one record at a time and waits (bounded) until the consumer took it; returns a failure or null.</summary>
    private static string? PingPong(SpscRing<ExitRecord> ring, DoorbellBitmap doorbell, EventCount signal, int me, Stopwatch clock,
        out long rounds)
    {
        var random = new Random(me);
        rounds = 0;
        while (rounds < 20 || (clock.Elapsed < TimeSpan.FromSeconds(1.5) && rounds < 20_000))
        {
            if (ring.FreeSpace() < 1)
            {
                return $"ring {me} full after {rounds} rounds, although each record is taken before the next";
            }

            ring.ProducerSlot(0) = new ExitRecord((ushort)me, 0, (ulong)rounds, 0, 0, 0);
            if (!ring.TryPublish(1))
            {
                return $"ring {me} refused a record without a close";
            }

            if (doorbell.Ring(me))
            {
                signal.Signal();
            }

            rounds++;
            var posted = Stopwatch.StartNew();
            while (ring.ConsumedCount < rounds)
            {
                if (posted.Elapsed > RecordBound)
                {
                    return $"record {rounds - 1} of ring {me} was not taken within {RecordBound.TotalSeconds} s (a lost wake-up)";
                }

                Thread.Yield();
            }

            switch (random.Next(4)) // meet the consumer in different phases: passing, clearing, registering, parked
            {
                case 0:
                    Thread.SpinWait(random.Next(1, 200));
                    break;
                case 1:
                    Thread.Sleep(0);
                    break;
                case 2:
                    Thread.Yield();
                    break;
            }
        }

        return null;
    }

    private static void Consume(GatherStage gather, EventCount signal, WaitStrategy wait, ConsumerState state)
    {
        var checker = new OrderChecker(state);
        var idle = new ParkingIdle(gather, state);
        while (!state.Stop)
        {
            if (!gather.Pass(ref checker))
            {
                wait.WaitUntil(ref idle, signal);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Posts_racing_a_close_are_drained_or_refused_never_both_never_neither(int closers)
    {
        const int Producers = 3;
        var clock = Stopwatch.StartNew();
        int cycles = 0;
        long refusedAfterPublishing = 0;
        while (cycles < 20 || (clock.Elapsed < TimeSpan.FromSeconds(2) && cycles < 2_000))
        {
            refusedAfterPublishing += RaceOneClose(Producers, closers, seed: cycles++);
        }

        Assert.True(refusedAfterPublishing > 0, "no publication was refused after its tail store: the window under test was not exercised");
    }

    /// <summary>
    /// One cycle: producers post until refused, the closers close at a random moment, a consumer drains. Returns how
    /// many records were refused after their tail store (the new window).
    /// </summary>
    private static long RaceOneClose(int producerCount, int closers, int seed)
    {
        var rings = new SpscRing<ExitRecord>[producerCount];
        for (int i = 0; i < producerCount; i++)
        {
            rings[i] = new SpscRing<ExitRecord>(32); // small enough that Post also waits for room, and a close meets that wait
        }

        var doorbell = new DoorbellBitmap(producerCount);
        var signal = new EventCount(parkTimeoutMilliseconds: 30_000);
        var posting = new PostingRings(rings, doorbell, signal, YieldingWaitStrategy.Instance, drop: false, "race");
        posting.Start();
        var gather = new GatherStage(rings, doorbell, clearAfterEmptyVisits: 1); // clear eagerly: the most barriers
        var state = new ConsumerState();
        var accepted = new long[producerCount];
        var refusedAfterPublishing = new long[producerCount];
        var unexpected = new Exception?[producerCount + 1];
        int closed = 0;

        var consumer = new Thread(() =>
        {
            try
            {
                var checker = new OrderChecker(state);
                while (true)
                {
                    bool any = gather.Pass(ref checker);
                    signal.Signal(); // producers waiting for room
                    if (!any)
                    {
                        if (Volatile.Read(ref closed) == closers && gather.AllEmpty)
                        {
                            return; // every closer sealed the rings, and everything below the seals is drained
                        }

                        Thread.Yield();
                    }
                }
            }
            catch (Exception e)
            {
                unexpected[producerCount] = e;
            }
        }) { IsBackground = true };
        var producers = new Thread[producerCount];
        for (int p = 0; p < producerCount; p++)
        {
            int me = p;
            producers[p] = new Thread(() =>
            {
                var random = new Random((seed * 31) + me);
                bool direct = random.Next(2) == 0; // the ring's own TryPublish (it says when a refusal came after publishing), or the engine's Post
                try
                {
                    while (true)
                    {
                        if (random.Next(4) == 0)
                        {
                            Thread.SpinWait(random.Next(1, 100)); // let the consumer keep up, so that closes meet publications, not full rings
                        }

                        if (!direct)
                        {
                            try
                            {
                                Assert.True(posting.Post(me, 0, (ulong)accepted[me], 0, 0, 1, wait: true));
                                accepted[me]++;
                            }
                            catch (EngineStoppedException)
                            {
                                return; // refused: the record is neither taken nor counted
                            }

                            continue;
                        }

                        SpscRing<ExitRecord> ring = rings[me];
                        int free = ring.FreeSpace(4);
                        if (free < 1)
                        {
                            if (ring.IsClosed)
                            {
                                return;
                            }

                            Thread.Yield();
                            continue;
                        }

                        int count = Math.Min(free, random.Next(1, 5));
                        for (int i = 0; i < count; i++)
                        {
                            ring.ProducerSlot(i) = new ExitRecord((ushort)me, 0, (ulong)(accepted[me] + i), 0, 0, 1);
                        }

                        if (!ring.TryPublish(count))
                        {
                            refusedAfterPublishing[me] += count;
                            Assert.False(ring.TryPublish(0)); // refused again: the seal does not move
                            return;
                        }

                        accepted[me] += count;
                        if (doorbell.Ring(me))
                        {
                            signal.Signal();
                        }
                    }
                }
                catch (Exception e)
                {
                    unexpected[me] = e;
                }
            }) { IsBackground = true };
        }

        var closerThreads = new Thread[closers];
        for (int c = 0; c < closers; c++)
        {
            int delay = new Random(seed + (c * 7919)).Next(0, 20_000);
            closerThreads[c] = new Thread(() =>
            {
                Thread.SpinWait(delay);
                posting.Close(null);
                Interlocked.Increment(ref closed);
            }) { IsBackground = true };
        }

        consumer.Start();
        foreach (Thread thread in producers)
        {
            thread.Start();
        }

        foreach (Thread thread in closerThreads)
        {
            thread.Start();
        }

        foreach (Thread thread in producers.Concat(closerThreads).Append(consumer))
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), $"cycle {seed}: a thread did not finish within 30 s");
        }

        Assert.All(unexpected, e => Assert.Null(e));
        Assert.Equal(0, state.OutOfOrder);
        for (int p = 0; p < producerCount; p++)
        {
            Assert.Equal(accepted[p], rings[p].PublishedCount); // the seal counts exactly what the producer was told was taken
            Assert.Equal(accepted[p], state.ConsumedBy(p));       // drained: every taken record, and not one refused
            Assert.True(rings[p].IsEmpty);
        }

        Assert.Equal(0, posting.Unconsumed());
        return refusedAfterPublishing.Sum();
    }

    [Fact]
    public void A_publication_after_the_seal_is_refused_uncounted_and_never_read_although_its_tail_moved()
    {
        var ring = new SpscRing<long>(8);
        Assert.True(ring.TryWrite([1L, 2L]) == 2);
        ring.BeginClose();
        Interlocked.MemoryBarrierProcessWide();
        Assert.Equal(2, ring.Seal());
        Assert.Equal(2, ring.Close()); // a second closer keeps the first seal

        ring.ProducerSlot(0) = 3;
        Assert.False(ring.TryPublish(1)); // the tail moved, but past the seal
        Assert.Equal(2, ring.PublishedCount);
        Span<long> read = stackalloc long[8];
        Assert.Equal(2, ring.TryRead(read));
        Assert.Equal([1L, 2L], read[..2].ToArray());
        Assert.True(ring.IsEmpty);
        Assert.Equal(0, ring.TryRead(read));
    }

    [Fact]
    public void A_producer_that_sees_the_flag_before_the_seal_waits_for_it_and_learns_it_was_included()
    {
        var ring = new SpscRing<long>(8);
        ring.BeginClose(); // the closer is between its flag and its seal
        ring.ProducerSlot(0) = 7;
        bool? taken = null;
        var producer = new Thread(() => taken = ring.TryPublish(1)) { IsBackground = true };
        producer.Start();
        Assert.False(producer.Join(TimeSpan.FromMilliseconds(100))); // it waits for the seal, it does not guess
        Interlocked.MemoryBarrierProcessWide();
        Assert.Equal(1, ring.Seal()); // the closer read the tail after its barrier: the record is inside
        Assert.True(producer.Join(TimeSpan.FromSeconds(30)));
        Assert.True(taken);
        Assert.Equal(1, ring.PublishedCount);
    }

    private sealed class ConsumerState
    {
        private readonly long[] _next = new long[256];

        public volatile bool Stop;

        public long Parks;

        public long Consumed;

        public long OutOfOrder;

        /// <summary>Records consumed from one ring, in order from 0.</summary>
        public long ConsumedBy(int ring) => _next[ring];

        public void Take(ReadOnlySpan<ExitRecord> records)
        {
            foreach (ref readonly ExitRecord record in records)
            {
                if ((long)record.Value != _next[record.SourceVcpu]++)
                {
                    OutOfOrder++;
                }
            }

            Consumed += records.Length;
        }
    }

    private readonly struct OrderChecker(ConsumerState state) : ISpanConsumer
    {
        public int Consume(ReadOnlySpan<ExitRecord> records)
        {
            state.Take(records);
            return records.Length;
        }
    }

    /// <summary>The pipeline's idle condition, as in the engine: work in a rung ring, or stop; its idle bells go before a park.</summary>
    private readonly struct ParkingIdle(GatherStage gather, ConsumerState state) : IWaitCondition
    {
        public bool IsSatisfied => gather.HasWork || state.Stop;

        public void BeforePark()
        {
            state.Parks++;
            gather.ReleaseIdleBells();
        }
    }
}
