using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using IpiEngine.Posting;
using IpiEngine.Rings;
using IpiEngine.Stages;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// The idle assist's protocol step by step, on a fused pipeline whose thread is never started: the test plays the
/// pipeline thread (release, take back) and calls the poster's slow path itself, so the rare interleavings the stress
/// tests of <see cref="IdleAssistTests"/> can hardly meet (<see cref="IdleAssist"/>'s (F2)) are reached every time.
/// </summary>
public class IdleAssistStepTests
{
    private const byte Vector = 0x40;

    private const ulong AllExcludingSelf = (3UL << 18) | Vector;

    private static ulong Unicast(uint destination) => TestIcr.Unicast(destination, Vector);

    [Fact]
    public void A_poster_that_finds_the_pipeline_parked_delivers_its_ring_and_leaves_its_bit_clear()
    {
        using var rig = new Rig();
        rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(1), 1, 0, 0, wait: true); // the pipeline holds the role: rung as usual
        Assert.True(rig.Doorbell.IsRung(0));
        Assert.Equal(0, rig.Stage.Resolved);

        rig.Doorbell.Clear([1UL]); // what the pipeline's release of its idle bells does to a drained ring...
        Assert.True(rig.Rings[0].TryRead(out _)); // ...(the record taken by hand stands for its last pass)
        rig.Assist.Release();                      // ...then it parks
        rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(1), 1, 0, 0, wait: true);

        Assert.True(rig.Rings[0].IsEmpty);
        Assert.False(rig.Doorbell.IsRung(0)); // no bit set, so no barrier is ever paid for it
        Assert.Equal(1, rig.Stage.Resolved);
        Assert.True(rig.Descriptors.HasPending(1));
        Assert.Equal(1, rig.Stage.Assisted);
    }

    [Fact]
    public void A_poster_whose_bit_the_pipeline_re_rang_before_parking_leaves_its_records_to_the_pipeline()
    {
        // The pipeline cleared the bit, saw this ring filled meanwhile and re-rang it, then parked; the poster had read
        // its bit clear before that re-ring. Draining now would leave a set bit on an empty ring to a parked pipeline,
        // whose next post would then take the fast path and never wake it (F2).
        using var rig = new Rig();
        rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(1), 1, 0, 0, wait: true); // rung (the role is the pipeline's)
        rig.Assist.Release();

        Assert.False(rig.Pipeline.TryAssist(0, mayWait: true)); // the poster's slow path after its stale read of the bit
        Assert.False(rig.Rings[0].IsEmpty);
        Assert.True(rig.Doorbell.IsRung(0));
        Assert.Equal(0, rig.Stage.Assisted);
        rig.Assist.TakeBack(); // the role was given back: the pipeline thread takes it without waiting
    }

    [Fact]
    public void A_post_from_the_notifier_during_an_assist_rings_its_bit_and_stays_in_the_ring_for_the_pipeline()
    {
        // 70 broadcasts to 63 vCPUs are more deliveries than one flush holds, so the batcher flushes, and notifies, in the
        // middle of the assist's drain: the nested post lands in the ring being drained, behind the assist's limit.
        const int Broadcasts = 70;
        int nested = 0;
        using var rig = new Rig(vcpus: 64, ringCapacity: 128, onNotify: (rig, vcpu) =>
        {
            if (vcpu == 1 && nested++ == 0)
            {
                rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(2), 2, 0, 0, wait: true); // this thread is ring 0's producer
            }
        });
        var broadcasts = new ExitRecord[Broadcasts];
        Array.Fill(broadcasts, ExitRecord.Create(0, ApicRegister.X2Icr, AllExcludingSelf, 0));
        rig.Assist.Release();
        rig.Posting.PostRun(0, broadcasts, 0); // one publication: assisted

        Assert.Equal(1, nested);
        Assert.Equal(1, rig.Stage.Assisted);
        Assert.Equal(Broadcasts, rig.Stage.Resolved);        // the assist took only what came before it
        Assert.Equal(1, rig.Rings[0].PublishedCount - rig.Rings[0].ConsumedCount);
        Assert.True(rig.Doorbell.IsRung(0));                 // rung and signalled: the pipeline owns it, with its record
    }

    [Fact]
    public void The_role_has_one_holder_and_the_pipeline_takes_it_back_only_when_the_poster_ends()
    {
        var assist = new IdleAssist();
        Assert.False(assist.TryBegin()); // the pipeline thread holds it from the start
        assist.Release();
        Assert.True(assist.TryBegin());
        Assert.False(assist.TryBegin()); // a second poster rings and signals instead

        var takenBack = new ManualResetEventSlim();
        var pipeline = new Thread(() =>
        {
            assist.TakeBack();
            takenBack.Set();
        }) { IsBackground = true };
        pipeline.Start();
        Assert.False(takenBack.Wait(TimeSpan.FromMilliseconds(200), TestContext.Current.CancellationToken)); // waits out the assist
        assist.End();
        Assert.True(takenBack.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.True(pipeline.Join(TimeSpan.FromSeconds(30)));
        Assert.False(assist.TryBegin()); // awake again: posts ring as usual
    }

    [Fact]
    public void A_poster_that_finds_another_assisting_waits_for_its_pass_and_takes_the_role_after_it()
    {
        // A closed loop answers from inside the pass it waits on: ringing at once there woke the parked pipeline thread
        // (ping-pong at 12 µs instead of 1.5). Stretched here so that the second poster surely waits out the first.
        var assist = new IdleAssist(otherAssistLooks: int.MaxValue);
        assist.Release();
        Assert.True(assist.TryBegin()); // poster A's pass
        bool? taken = null;
        var posterB = new Thread(() => taken = assist.TryBegin()) { IsBackground = true };
        posterB.Start();
        Assert.False(posterB.Join(TimeSpan.FromMilliseconds(100))); // waits while A holds the role
        assist.End();
        Assert.True(posterB.Join(TimeSpan.FromSeconds(30)));
        Assert.True(taken); // B holds it now: A's end let it in, and nobody was woken
        Assert.False(new IdleAssist().TryBegin()); // held by the pipeline: no wait, no role
        assist.End();

        var bounded = new IdleAssist(); // the default bound: a holder that never ends is waited for only briefly
        bounded.Release();
        Assert.True(bounded.TryBegin());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(bounded.TryBegin());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"waited {clock.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void The_role_and_its_run_counts_share_one_line_alone_in_its_pair()
    {
        for (int i = 0; i < 16; i++) // objects are 8-byte aligned: any of them would show a line placed by chance
        {
            Assert.Equal(0, new IdleAssist().RoleLineAddress % CacheLine.PaddedSize);
        }
    }

    [Fact]
    public void Dense_runs_of_assisted_passes_ask_once_for_the_pipeline_thread_until_its_take_back_answers()
    {
        var assist = new IdleAssist(denseRunTime: TimeSpan.MaxValue, denseRunsToWake: 3); // every run dense
        assist.Release();
        int asked = 0;
        for (int pass = 1; pass <= 10 * IdleAssist.DenseRun; pass++)
        {
            Assert.True(assist.TryBegin());
            if (assist.EndOfDenseRun())
            {
                asked++;
                Assert.Equal(3 * IdleAssist.DenseRun, pass); // the third run in a row, and only once while it stands
            }

            assist.End();
        }

        Assert.Equal(1, asked);
        Assert.True(assist.WakeRequested);
        assist.TakeBackToPark(); // the take-back before parking leaves it for the re-check after registering...
        Assert.True(assist.WakeRequested);
        assist.Release();
        assist.TakeBack();       // ...the one after the wait returned answers it
        Assert.False(assist.WakeRequested);

        // Runs that are never dense (a zero time: every run is slower) never ask; a park restarts the count of runs.
        var sparse = new IdleAssist(denseRunTime: TimeSpan.Zero, denseRunsToWake: 1);
        sparse.Release();
        for (int pass = 0; pass < 10 * IdleAssist.DenseRun; pass++)
        {
            Assert.True(sparse.TryBegin());
            Assert.False(sparse.EndOfDenseRun());
            sparse.End();
        }

        var restarted = new IdleAssist(denseRunTime: TimeSpan.MaxValue, denseRunsToWake: 2);
        restarted.Release();
        for (int pass = 0; pass < (2 * IdleAssist.DenseRun) - 1; pass++)
        {
            Assert.True(restarted.TryBegin());
            Assert.False(restarted.EndOfDenseRun());
            restarted.End();
        }

        restarted.TakeBack(); // the pipeline woke for other work and parks again: the posters' runs start over
        restarted.Release();
        for (int pass = 0; pass < IdleAssist.DenseRun; pass++)
        {
            Assert.True(restarted.TryBegin());
            Assert.False(restarted.EndOfDenseRun());
            restarted.End();
        }

        Assert.False(restarted.WakeRequested);

        // Two threads taking turns (a closed loop) never make a run, however fast: each pass restarts the other's count.
        var turns = new IdleAssist(denseRunTime: TimeSpan.MaxValue, denseRunsToWake: 1);
        turns.Release();
        int asks = 0;
        for (int pass = 0; pass < 4 * IdleAssist.DenseRun; pass++)
        {
            var other = new Thread(() =>
            {
                Assert.True(turns.TryBegin());
                asks += turns.EndOfDenseRun() ? 1 : 0;
                turns.End();
            }) { IsBackground = true };
            other.Start();
            Assert.True(other.Join(TimeSpan.FromSeconds(30)));
            Assert.True(turns.TryBegin());
            asks += turns.EndOfDenseRun() ? 1 : 0;
            turns.End();
        }

        Assert.Equal(0, asks);
        Assert.False(turns.WakeRequested);
    }

    [Fact]
    public void A_dense_run_of_assisted_posts_wakes_the_parked_pipeline_thread_which_answers_and_parks_again()
    {
        // The pipeline thread runs here: it parks at once (blocking wait), a poster assists post after post, and the run
        // that makes them dense signals it. Only its idle condition reading the request makes its wait return and its
        // take-back clear it; without that it would wake, find no doorbell bit, and park again with the request standing.
        using var rig = new Rig(ringCapacity: 256, assist: new IdleAssist(denseRunTime: TimeSpan.MaxValue, denseRunsToWake: 1));
        rig.Pipeline.Start();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (rig.Stage.Assisted == 0 && DateTime.UtcNow < deadline)
            {
                rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(1), 1, 0, 0, wait: true); // until one finds it parked
                Thread.Sleep(1);
            }

            Assert.True(rig.Stage.Assisted > 0, "the pipeline thread never parked");
            int answered = 0;
            while (answered < 3 && DateTime.UtcNow < deadline)
            {
                rig.Posting.Post(0, ApicRegister.X2Icr, Unicast(1), 1, 0, 0, wait: true);
                if (rig.Assist.WakeRequested)
                {
                    var asked = DateTime.UtcNow;
                    while (rig.Assist.WakeRequested && DateTime.UtcNow < deadline)
                    {
                        Thread.Yield(); // the pipeline thread takes the role back and clears it
                    }

                    Assert.False(rig.Assist.WakeRequested, $"asked at {asked:O}, never answered");
                    answered++;
                }
            }

            Assert.Equal(3, answered);
        }
        finally
        {
            rig.Posting.Close(null);
            rig.Pipeline.StopAndJoin();
        }

        Assert.Equal(rig.Rings[0].PublishedCount, rig.Stage.Resolved); // nothing lost or doubled on the way
    }

    /// <summary>A fused pipeline built by hand and never started.</summary>
    private sealed class Rig : IDisposable
    {
        public Rig(int vcpus = 3, int ringCapacity = 16, Action<Rig, int>? onNotify = null, IdleAssist? assist = null)
        {
            Rings = [.. Enumerable.Range(0, vcpus).Select(_ => new SpscRing<ExitRecord>(ringCapacity))];
            Doorbell = new DoorbellBitmap(vcpus);
            var signal = Signal = new EventCount();
            Posting = new PostingRings(Rings, Doorbell, signal, BlockingWaitStrategy.Instance, drop: false, "steps");
            Descriptors = new DescriptorTable(vcpus);
            var parts = new PipelineParts(Rings, Doorbell, Posting, new IcrResolver(ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical)),
                Descriptors, null, null, null, LocalTargets.Engine, BlockingWaitStrategy.Instance, signal, 512,
                new NotifierFaults(NotifierExceptionPolicy.Continue, null), StampDeliveries: DeliveryStamping.Never, AssistIdle: true, Cpus: null);
            Pipeline = new FusedPipeline<CallbackNotifier>(parts, new CallbackNotifier(vcpu => onNotify?.Invoke(this, vcpu)), assist);
            Assist = Pipeline.Assist!;
            Stage = new Counts(Pipeline);
        }

        public SpscRing<ExitRecord>[] Rings { get; }

        public DoorbellBitmap Doorbell { get; }

        public PostingRings Posting { get; }

        public EventCount Signal { get; }

        public DescriptorTable Descriptors { get; }

        public FusedPipeline<CallbackNotifier> Pipeline { get; }

        public IdleAssist Assist { get; }

        public Counts Stage { get; }

        public void Dispose() => Descriptors.Dispose();
    }

    /// <summary>The pipeline's counters, summed.</summary>
    private sealed class Counts(IEnginePipeline pipeline)
    {
        public long Resolved => pipeline.Counters.Sum(c => c.Read(CounterSlot.IpisResolved));

        public long Assisted => pipeline.Counters.Sum(c => c.Read(CounterSlot.AssistedPasses));
    }
}
