using IpiEngine.Apic;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>A failing notifier stops the engine cleanly; the steady-state hot path allocates nothing.</summary>
public class EngineFaultAndAllocationTests
{

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void A_throwing_notifier_is_reported_by_stop_and_nothing_hangs(ThreadingMode mode)
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            RingCapacity = 4,
            ThreadingMode = mode,
            PipelineRingSize = 512,
            NotifyCallback = _ => throw new InvalidDataException("simulator kick failed"),
            NotifierExceptions = IpiEngine.Delivery.NotifierExceptionPolicy.FailFast,
        });
        engine.Start();
        var poster = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    engine.Post(0, ApicRegister.X2Icr, Unicast(1, (byte)(0x20 + (i % 200))), 1);
                }
            }
            catch (InvalidOperationException)
            {
                // expected once the pipeline has failed and the ring is full
            }
        }) { IsBackground = true };
        poster.Start();
        Assert.True(poster.Join(TimeSpan.FromSeconds(30)), "a producer hung after the pipeline failed");
        var error = Assert.Throws<EngineFaultedException>(engine.Stop);
        Assert.IsType<InvalidDataException>(error.InnerException);
        Assert.Contains("simulator kick failed", error.Message);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    [InlineData(ThreadingMode.Inline)] // the posting thread resolves and delivers: its counter covers all of it
    public void Posting_resolving_and_delivering_allocate_nothing_in_steady_state(ThreadingMode mode)
    {
        // The notifier runs on the deliver thread: it samples that thread's allocation counter and takes the pending
        // interrupts so that the next batch notifies again. The producer samples its own counter around its posts.
        long deliverFirst = -1;
        long deliverLast = -1;
        int deliverThread = -1;
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 4,
            ThreadingMode = mode,
            DeliveryLogCapacity = 1 << 16,
            NotifyCallback = vcpu =>
            {
                long now = GC.GetAllocatedBytesForCurrentThread();
                if (deliverFirst < 0)
                {
                    deliverFirst = now;
                    deliverThread = Environment.CurrentManagedThreadId;
                }

                if (deliverThread == Environment.CurrentManagedThreadId)
                {
                    deliverLast = now; // the deliver thread's own counter only
                }

                engine!.TakePending(vcpu);
            },
        });
        using (engine)
        {
            engine.Start();
            ExitRecord[] batch = new ExitRecord[32];
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = ExitRecord.Create(0, ApicRegister.X2Icr, Unicast((uint)(1 + (i % 3)), (byte)(0x20 + i)), 0, (ulong)i);
            }

            // Warm-up: every call the window makes, for long enough that tiered compilation (30 calls, then a 100 ms
            // quiet period, then the tier-1 rejit and OSR) has settled, and first-use allocations are behind us.
            var warmUp = System.Diagnostics.Stopwatch.StartNew();
            for (int round = 0; round < 200 || warmUp.ElapsedMilliseconds < 500; round++)
            {
                PostWindowRound(engine, batch, round);
                if (round % 50 == 49)
                {
                    Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().InFlight == 0, TimeSpan.FromSeconds(10)));
                }
            }

            Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().InFlight == 0 && deliverFirst >= 0, TimeSpan.FromSeconds(10)));

            // One measured window, from the first post to the end of Stop's drain: exactly 0 bytes on the producer (which
            // also stops the engine) and on the deliver thread. First every thread's allocation context is retired: a
            // thread's counter (GC.GetAllocatedBytesForCurrentThread) jumps by the unused rest of its context, up to 8 KB,
            // when a GC started by another thread (another test) retires it, although the thread allocated nothing; that
            // was the 8 KB seen now and then in this window. Nothing between here and the end of the window allocates.
            GC.Collect();
            Volatile.Write(ref deliverFirst, -1);
            long producerBefore = GC.GetAllocatedBytesForCurrentThread();
            for (int round = 0; round < 2000; round++)
            {
                PostWindowRound(engine, batch, round);
            }

            engine.Stop(); // joins the pipeline threads: their last notification is visible below
            long producerAllocated = GC.GetAllocatedBytesForCurrentThread() - producerBefore;
            Assert.True(deliverFirst >= 0, "no notification in the window");
            long deliverAllocated = deliverLast - deliverFirst;
            Assert.True(producerAllocated == 0 && deliverAllocated == 0, $"the window allocated: producer {producerAllocated} B, deliver thread {deliverAllocated} B");

            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.True(counters.Notifications > 10, $"only {counters.Notifications} notifications");
        }
    }

    /// <summary>One round of the window's traffic: a batch, a single post and a try-post (all from vCPU 0).</summary>
    private static void PostWindowRound(Engine engine, ExitRecord[] batch, int round)
    {
        engine.PostBatch(0, batch);
        engine.Post(0, ApicRegister.X2Icr, Unicast(2, 0x99), 2, (ulong)round);
        engine.TryPost(0, ApicRegister.X2Icr, Unicast(3, 0x98), 3, (ulong)round);
    }
}
