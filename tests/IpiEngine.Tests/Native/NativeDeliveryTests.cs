using System.Runtime.InteropServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// What a C host gets through the ABI from a real engine: deliveries it can take before re-entry, kicks with its
/// context, topology writes in order, rejections counted by reason, and no waiting where nothing could make room.
/// </summary>
public unsafe class NativeDeliveryTests
{
    private const uint X2Icr = 0x830;
    private const uint XIcrLow = 0x300;
    private const uint XIcrHigh = 0x310;

    [Fact]
    public void Fixed_nmi_init_and_sipi_are_taken_before_re_entry_with_their_vectors()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeExit* records = stackalloc NativeExit[4]
            {
                Abi.Icr(0, 1, 0x41),                 // fixed, vector 0x41
                Abi.Icr(0, 1, 0x400),                // NMI
                Abi.Icr(0, 1, 0x4500),               // INIT, level assert
                Abi.Icr(0, 1, 0x699),                // SIPI, start page 0x99
            };
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.Equal(Status.Ok, Abi.PostBatch(engine, records, 4));
            Assert.Equal(Status.Ok, Abi.Stop(engine)); // drains

            Assert.Equal(1, Abi.Pending(engine, 1));
            Assert.Equal(0, Abi.Pending(engine, 0));
            NativePending pending;
            Assert.Equal(1, Abi.TakePending(engine, 1, &pending));
            Assert.Equal(1ul << 1, pending.Vectors[1]); // 0x41 = word 1, bit 1
            Assert.Equal(0ul, pending.Vectors[0] | pending.Vectors[2] | pending.Vectors[3]);
            Assert.Equal(NativePending.Nmi | NativePending.Init | NativePending.Sipi, pending.Flags);
            Assert.Equal(0x99u, pending.SipiVector);

            Assert.Equal(0, Abi.TakePending(engine, 1, &pending)); // taken once
            Assert.Equal(0u, pending.Flags);
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(4ul, counters.Posted);
            Assert.Equal(4ul, counters.IpisResolved);
            Assert.Equal(counters.DestinationsResolved, counters.Delivered + counters.Coalesced + counters.Forwarded);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void The_kick_reaches_the_host_callback_with_its_context_and_the_destination()
    {
        long* kicks = (long*)NativeMemory.AllocZeroed(4, sizeof(long));
        try
        {
            NativeConfig config = Abi.Config(4);
            config.Kick = &CountKick;
            config.KickContext = (nint)kicks;
            ulong engine = Abi.CreateOrFail(config);
            NativeExit toTwo = Abi.Icr(0, 2, 0x30);
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.Equal(Status.Ok, Abi.Post(engine, &toTwo));
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(Status.Ok, Abi.Destroy(engine));

            Assert.Equal(0, kicks[0] + kicks[1] + kicks[3]);
            Assert.True(kicks[2] >= 1, "vCPU 2 was never kicked");
            Assert.Equal((ulong)kicks[2], counters.Notifications);
        }
        finally
        {
            NativeMemory.Free(kicks);
        }
    }

    [UnmanagedCallersOnly]
    private static void CountKick(nint context, uint vcpu) => Interlocked.Increment(ref ((long*)context)[vcpu]);

    [Theory]
    [InlineData(AbiValues.ThreadingFused, 1)]
    [InlineData(AbiValues.ThreadingPerStage, 3)]
    [InlineData(AbiValues.ThreadingPerStage, 1)]
    public void Pipeline_cpus_pin_the_thread_that_kicks(uint threading, int count)
    {
        int[] allowed = ThreadAffinity.AllowedCpus();
        Assert.SkipWhen(allowed.Length == 0, "Pinning needs Linux.");
        uint deliverCpu = (uint)allowed[^1]; // the deliver thread is the last in pipeline order and runs the kicks
        uint* cpus = stackalloc uint[3] { (uint)allowed[0], deliverCpu, deliverCpu };
        // [0]: the CPU expected; [1]: kicks from a thread that may run on it alone; [2]: any other kick.
        long* seen = (long*)NativeMemory.AllocZeroed(3, sizeof(long));
        try
        {
            seen[0] = deliverCpu;
            NativeConfig config = Abi.Config(2);
            config.ThreadingMode = threading;
            config.Flags = AbiValues.FlagNoAssist; // fused: kicks only from the pipeline thread, never a posting one
            config.PipelineCpus = count == 1 ? cpus + 1 : cpus;
            config.PipelineCpuCount = (uint)count;
            config.Kick = &KickByCpu;
            config.KickContext = (nint)seen;
            ulong engine = Abi.CreateOrFail(config);
            Assert.Equal(Status.Ok, Abi.Start(engine));
            NativeExit toOne = Abi.Icr(0, 1, 0x40), toZero = Abi.Icr(1, 0, 0x41);
            Assert.Equal(Status.Ok, Abi.Post(engine, &toOne));
            Assert.Equal(Status.Ok, Abi.Post(engine, &toZero));
            Assert.Equal(Status.Ok, Abi.Stop(engine)); // drains and joins: every kick has happened
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(Status.Ok, Abi.Destroy(engine));

            Assert.Equal(2ul, counters.Delivered);
            Assert.Equal(0, seen[2]);
            Assert.Equal((long)counters.Notifications, seen[1]);
            Assert.True(seen[1] >= 2, $"{seen[1]} kicks, expected one per vCPU");
        }
        finally
        {
            NativeMemory.Free(seen);
        }
    }

    [UnmanagedCallersOnly]
    private static void KickByCpu(nint context, uint vcpu)
    {
        long* seen = (long*)context;
        int[] cpus = ThreadAffinity.AllowedCpus(); // allocates: a test's callback, not a hot path
        Interlocked.Increment(ref seen[cpus.Length == 1 && cpus[0] == seen[0] ? 1 : 2]); // read after Stop, which joins the threads
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_no_assist_flag_keeps_every_kick_off_the_posting_thread(bool noAssist)
    {
        // [0]: the posting thread's managed id; [1]: kicks on that thread; [2]: kicks on another thread.
        long* seen = (long*)NativeMemory.AllocZeroed(3, sizeof(long));
        try
        {
            NativeConfig config = Abi.Config(2);
            config.WaitStrategy = AbiValues.WaitBlocking; // the pipeline parks at every empty look: each paced post finds it parked
            config.Flags = noAssist ? AbiValues.FlagNoAssist : 0;
            config.Kick = &KickByThread;
            config.KickContext = (nint)seen;
            seen[0] = Environment.CurrentManagedThreadId;
            ulong engine = Abi.CreateOrFail(config);
            Assert.Equal(Status.Ok, Abi.Start(engine));
            const int Posts = 40;
            NativePending pending;
            for (int i = 0; i < Posts; i++)
            {
                NativeExit toOne = Abi.Icr(0, 1, 0x40 + (uint)(i % 8));
                Assert.Equal(Status.Ok, Abi.Post(engine, &toOne));
                Thread.Sleep(2); // time to deliver and park again
                Assert.True(Abi.TakePending(engine, 1, &pending) >= 0); // the vCPU takes what is pending, so the next delivery kicks again
            }

            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(Status.Ok, Abi.Destroy(engine));

            Assert.Equal((ulong)Posts, counters.Delivered + counters.Coalesced);
            Assert.Equal((ulong)(seen[1] + seen[2]), counters.Notifications);
            Assert.True(counters.Notifications > 1, "taking the pending between posts re-arms the kick, yet only one post kicked");
            if (noAssist)
            {
                Assert.Equal(0, seen[1]); // never delivered on the posting thread
            }
            else
            {
                Assert.True(seen[1] > 0, $"no post delivered itself although the pipeline parked between posts ({seen[2]} kicks elsewhere)");
            }
        }
        finally
        {
            NativeMemory.Free(seen);
        }
    }

    [UnmanagedCallersOnly]
    private static void KickByThread(nint context, uint vcpu)
    {
        long* seen = (long*)context;
        Interlocked.Increment(ref seen[Environment.CurrentManagedThreadId == seen[0] ? 1 : 2]); // read after Stop, which joins the threads
    }

    [Fact]
    public void A_reset_topology_takes_fixed_ipis_only_after_the_guest_enables_the_apic()
    {
        uint* ids = stackalloc uint[2] { 0, 5 }; // sparse: vCPU 1 has APIC ID 5
        NativeConfig config = Abi.Config(2, AbiValues.TopologyReset);
        config.ApicIds = ids;
        config.ApicIdCount = 2;
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(engine));
            NativeExit latch = new() { SourceVcpu = 0, Register = XIcrHigh, Value = 5u << 24, DestinationId = 5 };
            NativeExit fire = new() { SourceVcpu = 0, Register = XIcrLow, Value = 0x50, DestinationId = 5 };
            Assert.Equal(Status.Ok, Abi.Post(engine, &latch));
            Assert.Equal(Status.Ok, Abi.Post(engine, &fire)); // APIC 5 is software-disabled: not accepted
            Assert.Equal(Status.Ok, Abi.TopologyWrite(engine, 1, ApicRegister.Svr, 0x1FF)); // the guest enables it
            Assert.Equal(Status.Ok, Abi.Post(engine, &fire)); // the latch still holds 5
            Assert.Equal(Status.Ok, Abi.Stop(engine));

            NativePending pending;
            Assert.Equal(1, Abi.TakePending(engine, 1, &pending));
            Assert.Equal(1ul << 0x10, pending.Vectors[1]); // 0x50 = word 1, bit 16
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(4ul, counters.Posted);
            Assert.Equal(1ul, counters.Latched);
            Assert.Equal(1ul, counters.TopologyWrites);
            Assert.Equal(2ul, counters.IpisResolved);
            Assert.Equal(1ul, counters.NoDestination);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Rejections_are_counted_under_their_reason_index()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeExit illegal = Abi.Icr(0, 1, 0x05);            // fixed with vector 5: "send illegal vector"
            NativeExit reserved = Abi.Icr(0, 1, 0x300 | 0x40);    // delivery mode 011
            NativeExit unknown = new() { SourceVcpu = 0, Register = 0x123, Value = 0 };
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.Equal(Status.Ok, Abi.Post(engine, &illegal));
            Assert.Equal(Status.Ok, Abi.Post(engine, &reserved));
            Assert.Equal(Status.Ok, Abi.Post(engine, &unknown));
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(3ul, counters.Rejected);
            Assert.Equal(1ul, counters.RejectedByReason[(int)RejectReason.IllegalVector]);
            Assert.Equal(1ul, counters.RejectedByReason[(int)RejectReason.ReservedDeliveryMode]);
            Assert.Equal(1ul, counters.RejectedByReason[(int)RejectReason.UnknownRegister]);
            Assert.Equal(counters.Posted, counters.Latched + counters.TopologyWrites + counters.IpisResolved + counters.Rejected);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    /// <summary>
    /// Found by a review (2026-12-07): destroying a faulted engine freed it and then returned IPI_E_FAULTED, which a
    /// host reads as "not destroyed" (the C examples die on it). A C host cannot make the pipeline fail (its kick cannot
    /// throw), so the engine here is built around a managed one whose notifier fails fast.
    /// </summary>
    [Fact]
    public void Destroying_a_faulted_engine_frees_it_and_says_ok()
    {
        var managed = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = _ => throw new InvalidDataException("kick failed"),
        });
        var native = new NativeEngine(managed, 2);
        Assert.True(EngineHandleTable.TryAdd(native));
        ulong engine = native.Handle;
        Assert.Equal(Status.Ok, Abi.Start(engine));
        NativeExit record = Abi.Icr(0, 1, 0x40);
        int status = Status.Ok;
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); status != Status.Faulted && waited.Elapsed < TimeSpan.FromSeconds(20);)
        {
            status = Abi.Post(engine, &record);
            Thread.Sleep(1);
        }
        Assert.Equal(Status.Faulted, status); // the pipeline failed at its first notification
        Assert.Equal(Status.Faulted, Abi.Stop(engine)); // the failure is reported here ...
        Assert.Equal(Status.Ok, Abi.Destroy(engine)); // ... and destroy frees (before the fix: IPI_E_FAULTED)
        Assert.Equal(Status.BadHandle, Abi.Destroy(engine));
    }

    /// <summary>
    /// Found by a review (2026-12-07, helper-B): a batch that failed part way returned only the failure, and a host could
    /// not tell which of its records were posted. ipi_post_batch_ex says how many leading records were. The pipeline
    /// fails at the batch's first delivery (inline mode: on the posting thread), after vCPU 0's record was taken and
    /// before vCPU 1's were.
    /// </summary>
    [Fact]
    public void A_batch_that_fails_part_way_says_how_many_of_its_records_were_posted()
    {
        ulong engine = Abi.EngineWhoseKickFails();
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(engine));
            NativeExit* batch = stackalloc NativeExit[3] { Abi.Icr(0, 1, 0x40), Abi.Icr(1, 0, 0x41), Abi.Icr(1, 0, 0x42) };
            uint posted = 7;

            Assert.Equal(Status.Faulted, Abi.PostBatchEx(engine, batch, 3, &posted));
            Assert.Equal(1u, posted);
            Assert.Equal(Status.Faulted, Abi.PostBatchEx(engine, batch + 1, 2, &posted)); // the rest, again: none taken now
            Assert.Equal(0u, posted);
            Assert.Equal(Status.NullPointer, Abi.PostBatchEx(engine, batch, 3, null));
            Assert.Equal(Status.Faulted, Abi.Stop(engine));
            Assert.Equal(1ul, ReadCounters(engine).Posted); // the count the engine keeps agrees
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void A_batch_that_is_posted_whole_or_refused_whole_says_so()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeExit* batch = stackalloc NativeExit[3] { Abi.Icr(0, 1, 0x40), Abi.Icr(1, 0, 0x41), Abi.Icr(2, 0, 0x42) };
            uint posted = 7;
            Assert.Equal(Status.State, Abi.PostBatchEx(engine, batch, 2, &posted)); // before start
            Assert.Equal(0u, posted);
            Assert.Equal(Status.Ok, Abi.Start(engine));
            posted = 7;
            Assert.Equal(Status.VcpuRange, Abi.PostBatchEx(engine, batch, 3, &posted));
            Assert.Equal(0u, posted);
            Assert.Equal(Status.Ok, Abi.PostBatchEx(engine, batch, 2, &posted));
            Assert.Equal(2u, posted);
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            Assert.Equal(2ul, ReadCounters(engine).Posted);
            Assert.Equal(Status.Stopped, Abi.PostBatchEx(engine, batch, 2, &posted));
            Assert.Equal(0u, posted);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Before_start_a_full_ring_refuses_instead_of_waiting_forever()
    {
        NativeConfig config = Abi.Config(2);
        config.RingCapacity = 2;
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            NativeExit record = Abi.Icr(0, 1, 0x40);
            int[] statuses = new int[4];
            for (int i = 0; i < statuses.Length; i++)
                statuses[i] = i % 2 == 0 ? Abi.Post(engine, &record) : Abi.TryPost(engine, &record);
            Assert.Equal(Status.Ok, statuses[0]);
            Assert.Equal(Status.WouldBlock, statuses[^1]); // at most two fit
            Assert.Contains("ring is full", Abi.LastErrorText(), StringComparison.Ordinal); // its sentence, not a stale one (before: none)
            Assert.Equal(Status.State, Abi.PostBatch(engine, &record, 1));
            int accepted = statuses.Count(s => s == Status.Ok);

            Assert.Equal(Status.Ok, Abi.Start(engine)); // what waited is delivered
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            Assert.Equal((ulong)accepted, ReadCounters(engine).IpisResolved);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Stop_without_start_still_delivers_what_was_posted()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        NativeExit record = Abi.Icr(1, 0, 0x77);
        Assert.Equal(Status.Ok, Abi.Post(engine, &record));
        Assert.Equal(Status.Ok, Abi.Stop(engine));
        NativePending pending;
        Assert.Equal(1, Abi.TakePending(engine, 0, &pending));
        Assert.Equal(1ul << (0x77 - 64), pending.Vectors[1]);
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Fact]
    public void The_managed_posting_aid_posts_every_record_in_both_modes()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(3));
        try
        {
            NativeExit* records = stackalloc NativeExit[5]
            {
                Abi.Icr(0, 1, 0x40), Abi.Icr(0, 2, 0x41), Abi.Icr(1, 0, 0x42), Abi.Icr(1, 2, 0x43), Abi.Icr(2, 0, 0x44),
            };
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.Equal(Status.Ok, Abi.BenchPostManaged(engine, records, 5, 3, 0));
            Assert.Equal(Status.Ok, Abi.BenchPostManaged(engine, records, 5, 2, 2));
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(25ul, counters.Posted);
            Assert.Equal(25ul, counters.IpisResolved);
            Assert.Equal(25ul, counters.DestinationsResolved);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    public static TheoryData<uint, uint> ModesAndStrategies()
    {
        var data = new TheoryData<uint, uint>();
        foreach (uint mode in new[] { AbiValues.ThreadingFused, AbiValues.ThreadingPerStage })
        {
            foreach (uint wait in new[] { AbiValues.WaitDefault, AbiValues.WaitBusySpin, AbiValues.WaitYielding, AbiValues.WaitSleeping, AbiValues.WaitBlocking })
                data.Add(mode, wait);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ModesAndStrategies))]
    public void Every_threading_mode_and_wait_strategy_delivers_each_ipi_once(uint threading, uint wait)
    {
        NativeConfig config = Abi.Config(4);
        config.ThreadingMode = threading;
        config.WaitStrategy = wait;
        config.Flags = AbiValues.FlagNoPostTimestamp;
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            // Each destination gets each of 50 vectors exactly once: 150 IPIs, nothing to coalesce.
            const int PerDestination = 50;
            NativeExit* records = stackalloc NativeExit[3 * PerDestination];
            for (int i = 0; i < 3 * PerDestination; i++)
                records[i] = Abi.Icr(0, 1 + (uint)(i % 3), 0x40 + (uint)(i / 3));
            Assert.Equal(Status.Ok, Abi.Start(engine));
            Assert.Equal(Status.Ok, Abi.PostBatch(engine, records, 3 * PerDestination));
            Assert.Equal(Status.Ok, Abi.Stop(engine));

            for (uint vcpu = 1; vcpu <= 3; vcpu++)
            {
                NativePending pending;
                Assert.Equal(1, Abi.TakePending(engine, vcpu, &pending));
                int taken = 0;
                for (int w = 0; w < 4; w++)
                    taken += System.Numerics.BitOperations.PopCount(pending.Vectors[w]);
                Assert.Equal(PerDestination, taken);
            }
            NativeCounters counters = ReadCounters(engine);
            Assert.Equal(150ul, counters.Delivered);
            Assert.Equal(0ul, counters.Coalesced);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Sparse_ids_route_by_apic_id_not_by_vcpu_index()
    {
        NativeConfig config = Abi.Config(3);
        config.Flags = AbiValues.FlagSparseIds; // x2APIC: every third ID, so vCPU 1 is APIC 3
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            NativeExit toApic3 = Abi.Icr(0, 3, 0x60);
            NativeExit toApic1 = Abi.Icr(0, 1, 0x61); // no APIC has ID 1
            Assert.Equal(Status.Ok, Abi.Post(engine, &toApic3));
            Assert.Equal(Status.Ok, Abi.Post(engine, &toApic1));
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativePending pending;
            Assert.Equal(1, Abi.TakePending(engine, 1, &pending));
            Assert.Equal(1ul << (0x60 - 64), pending.Vectors[1]);
            Assert.Equal(1ul, ReadCounters(engine).NoDestination);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    private static NativeCounters ReadCounters(ulong engine) => Abi.ReadCounters(engine);
}
