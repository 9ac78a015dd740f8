using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Pipeline;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Stop racing producers (issue 17, items 4 and 5): a post either completes before Stop's drain and is resolved, or
/// fails with the stopped error; every Stop, also two at once, returns only when the engine is drained. Repeated
/// Start/Post/Stop cycles on tiny rings with many producers, conservation checked exactly after every cycle.
/// </summary>
public class StopRaceTests
{
    public enum PostKind
    {
        Post,
        TryPost,
        PostBatch,
    }

    [Theory]
    [InlineData(ThreadingMode.Fused, PostKind.Post, WaitStrategyKind.Hybrid, 2, 1)]
    [InlineData(ThreadingMode.Fused, PostKind.TryPost, WaitStrategyKind.Hybrid, 2, 2)]
    [InlineData(ThreadingMode.Fused, PostKind.PostBatch, WaitStrategyKind.Yielding, 2, 1)]
    [InlineData(ThreadingMode.PerStage, PostKind.Post, WaitStrategyKind.Blocking, 2, 2)]
    [InlineData(ThreadingMode.Fused, PostKind.Post, WaitStrategyKind.Sleeping, 4096, 2)]
    public void Every_post_racing_stop_is_resolved_or_refused_and_every_stop_returns_drained(
        ThreadingMode mode, PostKind kind, WaitStrategyKind wait, int ringCapacity, int stoppers)
    {
        const int Producers = 6;
        var clock = Stopwatch.StartNew();
        int cycles = 0;
        while (cycles < 3 || (clock.Elapsed < TimeSpan.FromSeconds(1.2) && cycles < 300))
        {
            cycles++;
            RunCycle(mode, kind, wait, ringCapacity, stoppers, Producers, cycles);
        }
    }

    private static void RunCycle(ThreadingMode mode, PostKind kind, WaitStrategyKind wait, int ringCapacity, int stoppers,
        int producerCount, int cycle)
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = producerCount,
            RingCapacity = ringCapacity,
            ThreadingMode = mode,
            PipelineRingSize = 512,
            WaitStrategy = wait,
        });
        engine.Start();
        var accepted = new long[producerCount];
        var acceptedAfterStop = new long[producerCount];
        var unexpected = new Exception?[producerCount];
        int stopsReturned = 0;
        var producers = new Thread[producerCount];
        for (int p = 0; p < producerCount; p++)
        {
            int vcpu = p;
            producers[p] = new Thread(() => Produce(engine, kind, vcpu, producerCount, ref accepted[vcpu],
                ref acceptedAfterStop[vcpu], ref unexpected[vcpu], ref stopsReturned)) { IsBackground = true };
            producers[p].Start();
        }

        // Let the producers get going (a stop before the first post tests nothing), bounded.
        var warm = Stopwatch.StartNew();
        while (Volatile.Read(ref accepted[0]) + Volatile.Read(ref accepted[producerCount - 1]) < 4 && warm.ElapsedMilliseconds < 200)
        {
            Thread.Yield();
        }

        var inFlightAtReturn = new long[stoppers];
        var stopErrors = new Exception?[stoppers];
        var stopThreads = new Thread[stoppers];
        for (int s = 0; s < stoppers; s++)
        {
            int index = s;
            stopThreads[s] = new Thread(() =>
            {
                try
                {
                    engine.Stop();
                    inFlightAtReturn[index] = engine.ReadCounters().InFlight; // read at once: Stop promised a drain
                }
                catch (InvalidOperationException e)
                {
                    stopErrors[index] = e;
                }

                Interlocked.Increment(ref stopsReturned);
            }) { IsBackground = true };
            stopThreads[s].Start();
        }

        foreach (Thread thread in stopThreads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(20)), $"cycle {cycle}: a Stop did not return");
        }

        foreach (Thread thread in producers)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(20)), $"cycle {cycle}: a producer did not finish after Stop");
        }

        Assert.All(stopErrors, e => Assert.Null(e));
        Assert.All(unexpected, e => Assert.Null(e));
        Assert.All(inFlightAtReturn, n => Assert.True(n == 0, $"cycle {cycle}: a Stop returned with {n} records in flight"));
        Assert.All(acceptedAfterStop, n => Assert.True(n == 0, $"cycle {cycle}: {n} posts accepted after Stop returned"));
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, $"cycle {cycle}: {counters}");
        long total = accepted.Sum();
        if (kind == PostKind.PostBatch)
        {
            // A batch refused part way has published a prefix: between the whole batches and all that was tried.
            Assert.InRange(counters.Posted, total, total + (3 * producerCount));
        }
        else
        {
            Assert.True(counters.Posted == total, $"cycle {cycle}: posted {counters.Posted}, accepted by callers {total}");
        }
    }

    private static void Produce(Engine engine, PostKind kind, int vcpu, int vcpus, ref long accepted, ref long acceptedAfterStop,
        ref Exception? unexpected, ref int stopsReturned)
    {
        Span<ExitRecord> batch = stackalloc ExitRecord[3];
        uint destination = (uint)((vcpu + 1) % vcpus);
        var budget = Stopwatch.StartNew();
        try
        {
            for (ulong tag = 0; budget.Elapsed < TimeSpan.FromSeconds(10); tag++)
            {
                bool stopped = Volatile.Read(ref stopsReturned) > 0;
                ulong value = Unicast(destination, (byte)(0x20 + (tag % 200)));
                switch (kind)
                {
                    case PostKind.Post:
                        engine.Post(vcpu, ApicRegister.X2Icr, value, destination, tag);
                        accepted++;
                        break;
                    case PostKind.TryPost:
                        if (!engine.TryPost(vcpu, ApicRegister.X2Icr, value, destination, tag))
                        {
                            Thread.Yield();
                            continue;
                        }

                        accepted++;
                        break;
                    default:
                        for (int i = 0; i < batch.Length; i++)
                        {
                            batch[i] = ExitRecord.Create((ushort)vcpu, ApicRegister.X2Icr, value + (uint)i, destination, tag);
                        }

                        engine.PostBatch(vcpu, batch);
                        accepted += batch.Length;
                        break;
                }

                if (stopped)
                {
                    acceptedAfterStop++;
                }

                Volatile.Write(ref accepted, accepted); // the warm-up loop reads it
            }

            unexpected = new TimeoutException("the producer was never refused");
        }
        catch (InvalidOperationException)
        {
            // refused: the engine stopped
        }
#pragma warning disable CA1031 // reported by the test thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            unexpected = e;
        }
    }
}
