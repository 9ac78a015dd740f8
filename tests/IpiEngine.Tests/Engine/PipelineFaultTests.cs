using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Issue 17, item 1: from the moment the pipeline fails, every post, try-post, batch and topology write throws one
/// exception type carrying the original failure, nothing more is counted as posted, the engine says it is not running,
/// and every Stop reports the failure; counters still balance.
/// </summary>
public class PipelineFaultTests
{

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void After_a_fault_every_producer_call_throws_the_fault_and_nothing_more_is_posted(ThreadingMode mode)
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            RingCapacity = 4,
            ThreadingMode = mode,
            AssistIdlePipeline = false, // the first post must be taken and fail the pipeline's thread (an assisted one throws itself: IdleAssistTests)
            PipelineRingSize = 512,
            NotifyCallback = _ => throw new InvalidDataException("kick failed"),
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
        });
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x30), 1);
        Assert.True(SpinWait.SpinUntil(() => !engine.IsRunning, TimeSpan.FromSeconds(10)), "IsRunning stayed true after the fault");
        long posted = engine.ReadCounters().Posted;

        AssertFault(Record.Exception(() => engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x31), 1)));
        AssertFault(Record.Exception(() => engine.TryPost(0, ApicRegister.X2Icr, Unicast(1, 0x32), 1)));
        AssertFault(Record.Exception(() => engine.PostBatch(1, [ExitRecord.Create(1, ApicRegister.X2Icr, Unicast(0, 0x33), 0, 0)])));
        AssertFault(Record.Exception(() => engine.ApplyTopologyWrite(1, ApicRegister.X2Svr, 0x1FF)));
        Assert.Equal(posted, engine.ReadCounters().Posted);

        AssertFault(Record.Exception(engine.Stop));
        AssertFault(Record.Exception(engine.Stop)); // every Stop reports it
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(posted, counters.Posted);
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(1, counters.NotifierFaults);
        Assert.False(engine.IsRunning);
        Assert.IsType<InvalidDataException>(engine.Fault);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void By_default_a_throwing_notifier_is_counted_reported_and_delivery_goes_on(ThreadingMode mode)
    {
        int calls = 0;
        var reported = new System.Collections.Concurrent.ConcurrentBag<(int Vcpu, Exception Error)>();
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 3,
            ThreadingMode = mode,
            PipelineRingSize = 512,
            NotifyCallback = vcpu =>
            {
                engine!.TakePending(vcpu); // so that the next delivery notifies again
                if (Interlocked.Increment(ref calls) % 2 == 0)
                {
                    throw new InvalidDataException("kick failed");
                }
            },
            NotifierExceptionHandler = (vcpu, error) => reported.Add((vcpu, error)),
        });
        using (engine)
        {
            engine.Start();
            for (int i = 0; i < 2000; i++)
            {
                engine.Post(i % 3, ApicRegister.X2Icr, Unicast((uint)((i + 1) % 3), (byte)(0x20 + (i % 200))), 0, (ulong)i);
            }

            engine.Stop(); // no exception: the default policy keeps delivering
            EngineCounters counters = engine.ReadCounters();
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.Equal(2000, counters.Posted);
            Assert.Equal(Volatile.Read(ref calls), counters.Notifications);
            Assert.Equal(Volatile.Read(ref calls) / 2, counters.NotifierFaults);
            Assert.Equal(counters.NotifierFaults, reported.Count);
            Assert.All(reported, r => Assert.IsType<InvalidDataException>(r.Error));
            Assert.True(counters.NotifierFaults > 0);
        }
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void Deliveries_stranded_by_a_fault_are_counted_as_undelivered(ThreadingMode mode)
    {
        // The first notification holds the deliver thread, then throws under the fail-fast policy. Per-stage: it waits until
        // every IPI is resolved, so the rest wait in the delivery ring, resolved and never delivered; fused (no such ring):
        // until every record is posted, so the rest are never resolved. Every record and destination is accounted for.
        // No idle assist: the notification must hold the pipeline's thread, not the posting one (IdleAssistTests has
        // the assisted fault).
        const int Ipis = 200;
        int notifying = 0;
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 4,
            ThreadingMode = mode,
            AssistIdlePipeline = false,
            PipelineRingSize = 512,
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = _ =>
            {
                Volatile.Write(ref notifying, 1);
                SpinWait.SpinUntil(() => mode == ThreadingMode.PerStage ? engine!.ReadCounters().DestinationsResolved == Ipis : engine!.ReadCounters().Posted == Ipis, TimeSpan.FromSeconds(20));
                throw new InvalidDataException("kick failed");
            },
        });
        using (engine)
        {
            engine.Start();
            for (int i = 0; i < Ipis; i++)
            {
                engine.Post(0, ApicRegister.X2Icr, Unicast((uint)(1 + (i % 3)), (byte)(0x20 + (i % 200))), 0, (ulong)i);
                if (i == 0)
                {
                    // the rest come after the first batch, while its notification holds the deliver thread
                    Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref notifying) == 1, TimeSpan.FromSeconds(20)), "no notification");
                }
            }

            AssertFault(Record.Exception(engine.Stop));
            EngineCounters counters = engine.ReadCounters();
            Assert.Equal(Ipis, counters.Posted);
            Assert.True(counters.ConservationHolds, counters.ToString());
            Assert.Equal(counters.IpisResolved, counters.DestinationsResolved); // unicasts
            Assert.Equal(counters.DestinationsResolved - counters.Delivered - counters.Coalesced, counters.Undelivered);
            if (mode == ThreadingMode.PerStage)
            {
                Assert.Equal(Ipis, counters.IpisResolved); // the notifier waited until all were resolved
                Assert.True(counters.Undelivered > 0, "the fault left nothing in the delivery ring: " + counters);
            }
            else
            {
                Assert.Equal(0, counters.Undelivered); // fused: a batch is delivered (and counted) whole
                Assert.True(counters.RejectedBy(RejectReason.EngineFaulted) > 0, "the fault left nothing unresolved: " + counters);
            }
        }
    }

    private static void AssertFault(Exception? error)
    {
        Assert.NotNull(error);
        Assert.IsType<EngineFaultedException>(error);
        Assert.IsType<InvalidDataException>(error.InnerException);
        Assert.Contains("kick failed", error.Message);
    }
}
