using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>A failing notifier stops the engine cleanly; the steady-state hot path allocates nothing.</summary>
public class EngineFaultAndAllocationTests
{
    private static ulong Unicast(uint destination, byte vector) => ((ulong)destination << 32) | vector | (1u << 14);

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
        });
        poster.Start();
        Assert.True(poster.Join(TimeSpan.FromSeconds(30)), "a producer hung after the pipeline failed");
        var error = Assert.Throws<EngineFaultedException>(engine.Stop);
        Assert.IsType<InvalidDataException>(error.InnerException);
        Assert.Contains("simulator kick failed", error.Message);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
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

            for (int i = 0; i < 200; i++)
            {
                engine.PostBatch(0, batch); // warm up: JIT, tiering, first-use allocations
            }

            Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().InFlight == 0 && deliverFirst >= 0, TimeSpan.FromSeconds(10)));

            // Up to three measured windows, each ending when its IPIs are delivered (before Stop). An allocation of the
            // hot path recurs in every window; a one-off by the runtime does not. (The single-window version, which also
            // counted Stop's drain, saw 6-7 KB on the pipeline thread in 2 of 5 full-suite runs; cause not pinned down.)
            var windows = new List<string>();
            for (int window = 0; window < 3; window++)
            {
                deliverFirst = -1;
                long producerBefore = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 2000; i++)
                {
                    engine.PostBatch(0, batch);
                    engine.Post(0, ApicRegister.X2Icr, Unicast(2, 0x99), 2, (ulong)i);
                    engine.TryPost(0, ApicRegister.X2Icr, Unicast(3, 0x98), 3, (ulong)i);
                }

                long producerAllocated = GC.GetAllocatedBytesForCurrentThread() - producerBefore;
                Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().InFlight == 0, TimeSpan.FromSeconds(10)));
                Assert.True(deliverFirst >= 0, "no notification in the window");
                windows.Add($"producer {producerAllocated} B, deliver thread {deliverLast - deliverFirst} B");
                if (producerAllocated == 0 && deliverLast == deliverFirst)
                {
                    break;
                }
            }

            engine.Stop();
            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.True(counters.Notifications > 10, $"only {counters.Notifications} notifications");
            Assert.True(windows[^1] == "producer 0 B, deliver thread 0 B", "every window allocated: " + string.Join("; ", windows));
        }
    }
}
