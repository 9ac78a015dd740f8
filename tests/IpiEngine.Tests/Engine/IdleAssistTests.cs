using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Fused mode's idle assist (<see cref="Stages.IdleAssist"/>): a post that finds the pipeline thread parked resolves and
/// delivers its own ring on the posting thread. Traffic here is paced and bursty so that the pipeline parks and wakes
/// all the time, and the engines park for up to 30 s without a signal, so that a lost wake-up shows as a stall past
/// the 10 s bound instead of being rescued by the default 1 s safety timeout. Every IPI is checked in the delivery log:
/// delivered once, in its source's order.
/// </summary>
public class IdleAssistTests
{
    private const int ParkTimeout = 30_000;
    private const byte BurstEnd = 0xFE; // the last IPI of a burst: when it is pending, the whole burst was delivered
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10); // far below the park timeout

    private static ulong Tag(int source, long sequence) => ((ulong)source << 32) | (ulong)sequence;

    [Theory]
    [InlineData(WaitStrategyKind.Blocking, 1)] // parks at every empty look: nearly every burst is assisted
    [InlineData(WaitStrategyKind.Blocking, 4)]
    [InlineData(WaitStrategyKind.Hybrid, 4)]   // the default: spins and yields first, so both paths mix
    public void Paced_and_bursty_producers_get_every_ipi_delivered_once_in_order_without_a_stall(WaitStrategyKind wait, int producers)
    {
        var engine = new Engine(new EngineOptions
        {
            VcpuCount = producers * 2, // producer p posts to its own sink, vCPU p + producers
            WaitStrategy = wait,
            RingCapacity = 64,
            DeliveryLogCapacity = 1 << 18,
            ParkTimeoutMilliseconds = ParkTimeout,
        });
        using var disposal = new BoundedDisposal(engine);
        engine.Start();
        var failures = new string?[producers];
        var posted = new long[producers];
        var threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int me = p;
            threads[p] = new Thread(() => failures[me] = ProduceBursts(engine, me, me + producers, out posted[me])) { IsBackground = true };
            threads[p].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(120)), "a producer did not finish");
        }

        Assert.All(failures, failure => Assert.Null(failure));

        // On a loaded machine (CI) the hybrid pipeline can stay awake through every burst, so that no post meets it
        // parked: paced single posts, far apart for it to park, make sure the assist is exercised (bounded).
        for (int i = 0; engine.ReadCounters().AssistedPasses == 0 && i < 400; i++)
        {
            Thread.Sleep(5);
            engine.Post(0, ApicRegister.X2Icr, Unicast((uint)producers, 0x40), (uint)producers, Tag(0, posted[0]++));
        }

        Assert.Null(StopWithinBound(engine));
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(posted.Sum(), counters.Posted);
        Assert.Equal(posted.Sum(), counters.IpisResolved);
        Assert.True(counters.AssistedPasses > 0, "no post was assisted: the protocol under test was not exercised");
        AssertDeliveredOnceInOrder(engine, posted);
    }

    /// <summary>
    /// Posts bursts of 1 to 16 IPIs to <paramref name="sink"/> (one post at a time or one batch), waits (bounded) until
    /// the burst's last IPI is pending, pauses in one of several ways, and repeats; returns a failure or null.
    /// </summary>
    private static string? ProduceBursts(Engine engine, int source, int sink, out long posted)
    {
        var random = new Random(source + 17);
        var batch = new ExitRecord[16];
        var clock = Stopwatch.StartNew();
        posted = 0;
        for (int bursts = 0; bursts < 50 || (clock.Elapsed < TimeSpan.FromSeconds(1.5) && posted < 20_000); bursts++)
        {
            int size = random.Next(1, batch.Length + 1);
            bool asBatch = random.Next(2) == 0;
            for (int i = 0; i < size; i++)
            {
                byte vector = i == size - 1 ? BurstEnd : (byte)(0x30 + random.Next(0xC0));
                ulong tag = Tag(source, posted + i);
                if (asBatch)
                {
                    batch[i] = ExitRecord.Create((ushort)source, ApicRegister.X2Icr, Unicast((uint)sink, vector), (uint)sink, tag);
                }
                else
                {
                    engine.Post(source, ApicRegister.X2Icr, Unicast((uint)sink, vector), (uint)sink, tag);
                }
            }

            if (asBatch)
            {
                engine.PostBatch(source, batch.AsSpan(0, size));
            }

            posted += size;
            var waited = Stopwatch.StartNew();
            while (!engine.TakePending(sink).IsPending(BurstEnd))
            {
                if (waited.Elapsed > Bound)
                {
                    return $"source {source}: burst {bursts} (IPIs up to {posted - 1}) was not delivered within {Bound.TotalSeconds} s (a lost wake-up)";
                }

                Thread.Yield();
            }

            switch (random.Next(5)) // meet the pipeline in every phase: passing, releasing its bells, registering, parked
            {
                case 0:
                    break;
                case 1:
                    Thread.SpinWait(random.Next(1, 500));
                    break;
                case 2:
                    Thread.Yield();
                    break;
                case 3:
                    Thread.Sleep(0);
                    break;
                default:
                    Thread.Sleep(1);
                    break;
            }
        }

        return null;
    }

    [Theory]
    [InlineData(WaitStrategyKind.Blocking, true)]
    [InlineData(WaitStrategyKind.Hybrid, true)]
    [InlineData(WaitStrategyKind.Hybrid, false)]
    public void Two_vcpus_ping_ponging_complete_every_round_trip(WaitStrategyKind wait, bool assist)
    {
        const int RoundTrips = 2000;
        const byte Vector = 0x41;
        var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            WaitStrategy = wait,
            AssistIdlePipeline = assist,
            ParkTimeoutMilliseconds = ParkTimeout,
        });
        using var disposal = new BoundedDisposal(engine);
        engine.Start();
        string? partnerFailure = null;
        var partner = new Thread(() =>
        {
            for (int i = 0; i < RoundTrips; i++)
            {
                if (!engine.WaitForPending(1, Bound, out PendingInterrupts ping) || !ping.IsPending(Vector))
                {
                    partnerFailure = $"ping {i} did not arrive within {Bound.TotalSeconds} s";
                    return;
                }

                engine.Post(1, ApicRegister.X2Icr, Unicast(0, Vector), 0, (ulong)i);
            }
        }) { IsBackground = true };
        partner.Start();
        for (int i = 0; i < RoundTrips && partnerFailure is null; i++)
        {
            engine.Post(0, ApicRegister.X2Icr, Unicast(1, Vector), 1, (ulong)i);
            Assert.True(engine.WaitForPending(0, Bound, out PendingInterrupts pong) && pong.IsPending(Vector),
                $"round trip {i} did not complete within {Bound.TotalSeconds} s ({partnerFailure})");
        }

        Assert.True(partner.Join(Bound), "the partner did not finish");
        Assert.Null(partnerFailure);
        Assert.Null(StopWithinBound(engine));
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(2 * RoundTrips, counters.Delivered); // one IPI pending at a time: nothing coalesces
        if (!assist)
        {
            Assert.Equal(0, counters.AssistedPasses);
        }
        else if (wait == WaitStrategyKind.Blocking)
        {
            Assert.True(counters.AssistedPasses > 0, "no round trip was assisted although the pipeline parks at every empty look");
        }
    }

    [Fact]
    public void Posts_racing_a_stop_are_drained_or_refused_never_both_never_neither()
    {
        const int Producers = 3;
        var clock = Stopwatch.StartNew();
        long assisted = 0;
        for (int cycle = 0; cycle < 20 || (clock.Elapsed < TimeSpan.FromSeconds(2) && cycle < 300); cycle++)
        {
            assisted += RaceOneStop(Producers, cycle);
        }

        Assert.True(assisted > 0, "no post was assisted: the race under test was not exercised");
    }

    /// <summary>One engine: producers post (paced, so the pipeline parks) until refused while another thread stops it.</summary>
    private static long RaceOneStop(int producers, int seed)
    {
        var engine = new Engine(new EngineOptions
        {
            VcpuCount = producers + 1,
            WaitStrategy = WaitStrategyKind.Blocking,
            RingCapacity = 16,
            DeliveryLogCapacity = 1 << 16,
            ParkTimeoutMilliseconds = ParkTimeout,
        });
        using (new BoundedDisposal(engine))
        {
            engine.Start();
            var accepted = new long[producers];
            var unexpected = new Exception?[producers];
            var threads = new Thread[producers];
            for (int p = 0; p < producers; p++)
            {
                int me = p;
                threads[p] = new Thread(() =>
                {
                    var random = new Random((seed * 31) + me);
                    try
                    {
                        while (accepted[me] < 100_000)
                        {
                            var destination = (uint)producers; // the vCPU nobody posts from
                            bool taken = random.Next(4) == 0
                                ? engine.TryPost(me, ApicRegister.X2Icr, Unicast(destination, 0x40), destination, Tag(me, accepted[me]))
                                : Post(engine, me, destination, Tag(me, accepted[me]));
                            if (taken)
                            {
                                accepted[me]++;
                            }

                            if (random.Next(3) == 0)
                            {
                                Thread.SpinWait(random.Next(1, 2000)); // let the pipeline park, so that the next post assists
                            }
                        }
                    }
                    catch (EngineStoppedException)
                    {
                        // refused: neither taken nor counted
                    }
                    catch (Exception e)
                    {
                        unexpected[me] = e;
                    }
                }) { IsBackground = true };
                threads[p].Start();
            }

            Thread.Sleep(new Random(seed).Next(0, 5));
            Assert.Null(StopWithinBound(engine));
            foreach (Thread thread in threads)
            {
                Assert.True(thread.Join(TimeSpan.FromSeconds(30)), $"cycle {seed}: a producer did not finish");
            }

            Assert.All(unexpected, e => Assert.Null(e));
            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, $"cycle {seed}: {counters}");
            Assert.Equal(accepted.Sum(), counters.Posted); // drained + refused = posted: what the callers were told was taken
            Assert.Equal(accepted.Sum(), counters.IpisResolved);
            AssertDeliveredOnceInOrder(engine, accepted);
            return counters.AssistedPasses;
        }
    }

    private static bool Post(Engine engine, int source, uint destination, ulong tag)
    {
        engine.Post(source, ApicRegister.X2Icr, Unicast(destination, 0x40), destination, tag);
        return true;
    }

    [Fact]
    public void A_notifier_that_throws_in_an_assisted_pass_faults_the_engine_and_tells_the_poster()
    {
        int poster = Environment.CurrentManagedThreadId;
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            WaitStrategy = WaitStrategyKind.Blocking, // parks at once: the next post finds it parked
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            ParkTimeoutMilliseconds = ParkTimeout,
            NotifyCallback = _ =>
            {
                if (Environment.CurrentManagedThreadId == poster)
                {
                    throw new InvalidDataException("kick failed on the posting thread"); // only in an assisted pass
                }
            },
        });
        using (new BoundedDisposal(engine))
        {
            engine.Start();
            long accepted = 0;
            EngineFaultedException? fault = null;
            for (int i = 0; i < 5000 && fault is null; i++)
            {
                engine.TakePending(1); // so that the next delivery notifies
                try
                {
                    engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1, (ulong)i);
                    accepted++;
                }
                catch (EngineFaultedException e)
                {
                    fault = e;
                }

                Thread.Sleep(1); // the pipeline parks
            }

            Assert.NotNull(fault);
            Assert.IsType<InvalidDataException>(fault.InnerException);
            Assert.False(engine.IsRunning);
            Assert.Throws<EngineFaultedException>(() => engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1));
            Assert.IsType<EngineFaultedException>(StopWithinBound(engine)); // returns only if the failed assist gave the role back
            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.Equal(accepted + 1, counters.Posted); // the post that met the failure was taken, resolved and counted first
            Assert.True(counters.AssistedPasses >= 1, counters.ToString());
            Assert.Equal(1, counters.NotifierFaults);
        }
    }

    [Fact]
    public void A_post_from_the_notifier_during_an_assist_is_left_to_the_pipeline_and_delivered_once()
    {
        // Against the notifier contract, but it must neither recurse nor lose a record: the nested post (this thread is
        // vCPU 0's only producer) finds the role taken, rings and signals; the assist drains only what came before it.
        int poster = Environment.CurrentManagedThreadId;
        long nested = 0;
        long outer = 0;
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 3,
            WaitStrategy = WaitStrategyKind.Blocking,
            DeliveryLogCapacity = 1 << 16,
            ParkTimeoutMilliseconds = ParkTimeout,
            NotifyCallback = vcpu =>
            {
                if (vcpu == 1 && Environment.CurrentManagedThreadId == poster)
                {
                    engine!.Post(0, ApicRegister.X2Icr, Unicast(2, 0x50), 2, Tag(0, outer + nested++));
                }
            },
        });
        using (new BoundedDisposal(engine))
        {
            engine.Start();
            var random = new Random(5);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 100 || (clock.Elapsed < TimeSpan.FromSeconds(1.5) && i < 5000); i++)
            {
                engine.TakePending(1); // so that the next delivery to vCPU 1 notifies
                engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1, Tag(0, outer++ + nested));
                var waited = Stopwatch.StartNew();
                while (engine.ReadCounters().InFlight != 0)
                {
                    Assert.True(waited.Elapsed < Bound, $"post {i}: a record was not resolved within {Bound.TotalSeconds} s (a lost wake-up)");
                    Thread.Yield();
                }

                if (random.Next(2) == 0)
                {
                    Thread.Sleep(random.Next(2)); // otherwise post at once: meet the pipeline as it releases the role
                }
            }

            Assert.Null(StopWithinBound(engine));
            Assert.True(nested > 0, "the notifier never ran on the posting thread: no assist was exercised");
            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.Equal(outer + nested, counters.Posted);
            AssertDeliveredOnceInOrder(engine, [outer + nested]);
        }
    }

    [Theory]
    [InlineData(ThreadingMode.PerStage)]
    [InlineData(ThreadingMode.Inline)]
    public void Only_fused_mode_assists(ThreadingMode mode)
    {
        var engine = new Engine(new EngineOptions { VcpuCount = 2, ThreadingMode = mode, WaitStrategy = WaitStrategyKind.Blocking });
        using var disposal = new BoundedDisposal(engine);
        engine.Start();
        for (int i = 0; i < 50; i++)
        {
            engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1);
            Thread.Sleep(1);
        }

        Assert.Null(StopWithinBound(engine));
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(50, counters.IpisResolved);
        Assert.Equal(0, counters.AssistedPasses);
    }

    /// <summary>
    /// Stops on another thread, within a bound: a record left in a ring whose bell never rang would keep the stop's
    /// drain waiting forever, as would a consumer role never given back. Returns what Stop threw.
    /// </summary>
    private static Exception? StopWithinBound(Engine engine)
    {
        Exception? error = null;
        var stopper = new Thread(() => error = Record.Exception(engine.Stop)) { IsBackground = true };
        stopper.Start();
        Assert.True(stopper.Join(TimeSpan.FromSeconds(30)), "Stop did not return within 30 s: a record stayed in a ring nobody visits, or the consumer role was never given back");
        return error;
    }

    /// <summary>Disposes within the same bound, so that a failed test reports its failure instead of hanging in its cleanup.</summary>
    private sealed class BoundedDisposal(Engine engine) : IDisposable
    {
        public void Dispose()
        {
            var disposer = new Thread(engine.Dispose) { IsBackground = true };
            disposer.Start();
            disposer.Join(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>
    /// The delivery log holds each source's IPIs exactly once and in posting order (tags carry source and sequence;
    /// every IPI here is a unicast, so one delivery each).
    /// </summary>
    private static void AssertDeliveredOnceInOrder(Engine engine, long[] postedBySource)
    {
        var next = new long[postedBySource.Length];
        Assert.Equal(0, engine.ReadCounters().LogOverflow);
        foreach (DeliveryLogEntry entry in engine.ReadDeliveryLog())
        {
            int source = (int)(entry.Tag >> 32);
            long sequence = (long)(entry.Tag & 0xFFFF_FFFF);
            Assert.Equal(source, entry.SourceVcpu);
            Assert.True(sequence == next[source],
                $"source {source}: IPI {sequence} delivered where {next[source]} was due (lost, doubled or reordered)");
            next[source]++;
        }

        Assert.Equal(postedBySource, next);
    }
}
