using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// The C ABI's error paths and life cycle, called through function pointers exactly as C calls them (the same
/// cases as examples/c-sim/ipi_errors.c, which CI runs against the NativeAOT library).
/// </summary>
public unsafe class NativeExportsTests
{
    [Fact]
    public void Abi_version_is_1_13()
        => Assert.Equal(0x1_000Du, Abi.AbiVersion());

    [Fact]
    public void Every_status_has_its_own_sentence_and_unknown_codes_get_one_too()
    {
        var messages = new HashSet<string>(StringComparer.Ordinal);
        for (int status = Status.Ok; status >= Status.Lowest; status--)
        {
            string text = Abi.Message(status);
            Assert.False(string.IsNullOrWhiteSpace(text));
            Assert.True(messages.Add(text), $"status {status} repeats a sentence");
        }
        Assert.Equal("unknown status code", Abi.Message(1234));
        Assert.DoesNotContain(Abi.Message(Status.Lowest - 1), messages);
    }

    [Fact]
    public void Create_refuses_null_pointers_and_clears_the_out_handle()
    {
        NativeConfig config = Abi.Config(2);
        ulong handle = 99;
        Assert.Equal(Status.NullPointer, Abi.Create(null, &handle));
        Assert.Equal(0ul, handle);
        Assert.Equal(Status.NullPointer, Abi.Create(&config, null));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8u)]
    [InlineData(55u)]
    public void Create_refuses_a_struct_size_below_the_first_layout(uint size)
    {
        NativeConfig config = Abi.Config(2);
        config.StructSize = size;
        ulong handle = 99;
        Assert.Equal(Status.StructSize, Abi.Create(&config, &handle));
        Assert.Equal(0ul, handle);
    }

    public static TheoryData<string> BadConfigs => ["vcpus 0", "vcpus too many", "topology 0", "topology 99", "ring 3", "ring 1", "ring 2^27",
        "threading 7", "wait 9", "back-pressure 5", "unknown flag", "xAPIC flat with 9 vCPUs",
        "apic ids short", "apic ids long", "apic id count without ids", "apic ids with a configured topology", "reserved",
        "pipeline cpu count without cpus", "pipeline cpus without a count", "pipeline cpus 4", "pipeline cpus 2 for per-stage",
        "pipeline cpus 3 for fused", "pipeline cpus for inline", "pipeline cpu not allowed", "reserved2"];

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Create_refuses_out_of_range_configs(string which)
    {
        NativeConfig config = Abi.Config(4);
        uint* ids = stackalloc uint[4] { 0, 1, 2, 3 };
        uint* cpus = stackalloc uint[4] { 0, 0, 0, 0 };
        switch (which)
        {
            case "vcpus 0": config.VcpuCount = 0; break;
            case "vcpus too many": config.VcpuCount = AbiValues.MaxVcpus + 1; break;
            case "topology 0": config.Topology = 0; break;
            case "topology 99": config.Topology = 99; break;
            case "ring 3": config.RingCapacity = 3; break;
            case "ring 1": config.RingCapacity = 1; break;
            case "ring 2^27": config.RingCapacity = 1u << 27; break; // 32-byte records: the storage size wrapped to 0
            case "threading 7": config.ThreadingMode = 7; break;
            case "wait 9": config.WaitStrategy = 9; break;
            case "back-pressure 5": config.BackPressure = 5; break;
            case "unknown flag": config.Flags = 0x80; break;
            case "xAPIC flat with 9 vCPUs": config.VcpuCount = 9; config.Topology = AbiValues.TopologyXApicFlat; break;
            case "apic ids short": config.Topology = AbiValues.TopologyReset; config.ApicIds = ids; config.ApicIdCount = 3; break;
            case "apic ids long": config.Topology = AbiValues.TopologyReset; config.ApicIds = ids; config.ApicIdCount = 5; break;
            case "apic id count without ids": config.Topology = AbiValues.TopologyReset; config.ApicIdCount = 4; break;
            case "apic ids with a configured topology": config.ApicIds = ids; config.ApicIdCount = 4; break;
            case "reserved": config.Reserved = 1; break;
            case "pipeline cpu count without cpus": config.PipelineCpuCount = 1; break;
            case "pipeline cpus without a count": config.PipelineCpus = cpus; break;
            case "pipeline cpus 4": config.ThreadingMode = AbiValues.ThreadingPerStage; config.PipelineCpus = cpus; config.PipelineCpuCount = 4; break;
            case "pipeline cpus 2 for per-stage": config.ThreadingMode = AbiValues.ThreadingPerStage; config.PipelineCpus = cpus; config.PipelineCpuCount = 2; break;
            case "pipeline cpus 3 for fused": config.PipelineCpus = cpus; config.PipelineCpuCount = 3; break;
            case "pipeline cpus for inline": config.ThreadingMode = AbiValues.ThreadingInline; config.PipelineCpus = cpus; config.PipelineCpuCount = 1; break;
            case "pipeline cpu not allowed": cpus[0] = (uint)ThreadAffinity.MaxCpus; config.PipelineCpus = cpus; config.PipelineCpuCount = 1; break;
            case "reserved2": config.Reserved2 = 1; break;
            default: throw new ArgumentOutOfRangeException(nameof(which));
        }
        ulong handle = 99;
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Equal(0ul, handle);
    }

    [Fact]
    public void A_caller_built_before_abi_1_4_passes_apic_ids_without_a_count_and_its_engine_is_still_created()
    {
        uint* ids = stackalloc uint[2] { 0, 5 };
        NativeConfig config = Abi.Config(2, AbiValues.TopologyReset);
        config.StructSize = NativeConfig.MinimumSize; // the 56-byte layout: apic_id_count and reserved are past it
        config.ApicIds = ids;
        config.ApicIdCount = 0xDEAD;
        config.Reserved = 0xBEEF;
        ulong engine = Abi.CreateOrFail(config);
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Theory]
    [InlineData(56u)]
    [InlineData(64u)]
    public void A_caller_built_before_abi_1_6_leaves_the_pipeline_threads_to_the_os(uint structSize)
    {
        NativeConfig config = Abi.Config(2);
        config.StructSize = structSize; // pipeline_cpus, pipeline_cpu_count and reserved2 are past it: never read
        config.PipelineCpus = (uint*)0x1;
        config.PipelineCpuCount = 0xDEAD;
        config.Reserved2 = 0xBEEF;
        ulong engine = Abi.CreateOrFail(config);
        Assert.Equal(Status.Ok, Abi.Start(engine));
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Fact]
    public void A_refused_pipeline_cpu_list_says_what_is_wrong_with_it()
    {
        uint* cpus = stackalloc uint[2] { 0, 0 };
        NativeConfig config = Abi.Config(2);
        config.ThreadingMode = AbiValues.ThreadingPerStage;
        config.PipelineCpus = cpus;
        config.PipelineCpuCount = 2;
        ulong handle;
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Contains("names 2 CPUs; PerStage mode runs 3", Abi.LastErrorText(), StringComparison.Ordinal);

        config.PipelineCpus = null;
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Contains("pipeline_cpu_count is 2 but pipeline_cpus is NULL", Abi.LastErrorText(), StringComparison.Ordinal);

        cpus[0] = uint.MaxValue; // not CPU -1 after a cast: named as the caller wrote it
        config.PipelineCpus = cpus;
        config.PipelineCpuCount = 1;
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Contains("pipeline_cpus[0] is 4294967295", Abi.LastErrorText(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_error_says_which_field_or_vcpu_was_wrong_and_truncates_safely()
    {
        NativeConfig config = Abi.Config(4);
        config.RingCapacity = 3;
        ulong handle;
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Contains("ring_capacity 3", Abi.LastErrorText(), StringComparison.Ordinal);

        config = Abi.Config(9, AbiValues.TopologyXApicFlat);
        Assert.Equal(Status.BadConfig, Abi.Create(&config, &handle));
        Assert.Contains("8", Abi.LastErrorText(), StringComparison.Ordinal); // the topology's own sentence: at most 8

        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        NativeExit outOfRange = Abi.Icr(7, 0, 0x40);
        Assert.Equal(Status.VcpuRange, Abi.Post(engine, &outOfRange));
        string text = Abi.LastErrorText();
        Assert.Contains("vCPU 7", text, StringComparison.Ordinal);
        Assert.Equal(Status.Ok, Abi.Start(engine)); // a success leaves the sentence alone
        Assert.Equal(text, Abi.LastErrorText());
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
        Assert.Equal(Status.BadHandle, Abi.Destroy(engine));
        Assert.Contains("not a live engine", Abi.LastErrorText(), StringComparison.Ordinal);

        byte* small = stackalloc byte[4] { 0xFF, 0xFF, 0xFF, 0xFF };
        int length = Abi.LastError(small, 4);
        Assert.True(length > 3);
        Assert.Equal(0, small[3]); // NUL-terminated within capacity
        Assert.Equal(length, Abi.LastError(null, 0)); // a size query
    }

    [Fact]
    public void A_larger_struct_size_from_a_newer_header_is_accepted()
    {
        NativeConfig config = Abi.Config(2);
        config.StructSize = 128;
        ulong handle = Abi.CreateOrFail(config);
        Assert.Equal(Status.Ok, Abi.Destroy(handle));
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(0xDEAD_BEEFul)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1ul)] // slot 0 with generation 0, which is never issued (a real generation such as 7 may be a live engine of a test running beside)
    [InlineData((7ul << 32) | (AbiValues.MaxEngines + 1))] // a generation in a slot past the table
    public void Unknown_handles_are_refused_by_every_call(ulong bogus)
    {
        NativeExit record = Abi.Icr(0, 1, 0x40);
        NativePending pending;
        NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
        Assert.Equal(Status.BadHandle, Abi.Start(bogus));
        Assert.Equal(Status.BadHandle, Abi.Post(bogus, &record));
        Assert.Equal(Status.BadHandle, Abi.TryPost(bogus, &record));
        Assert.Equal(Status.BadHandle, Abi.PostBatch(bogus, &record, 1));
        Assert.Equal(Status.BadHandle, Abi.TopologyWrite(bogus, 0, 0x80F, 0x1FF));
        Assert.Equal(Status.BadHandle, Abi.Pending(bogus, 0));
        Assert.Equal(Status.BadHandle, Abi.TakePending(bogus, 0, &pending));
        Assert.Equal(Status.BadHandle, Abi.Counters(bogus, &counters));
        Assert.Equal(Status.BadHandle, Abi.Stop(bogus));
        Assert.Equal(Status.BadHandle, Abi.Destroy(bogus));
        Assert.Equal(Status.BadHandle, Abi.BenchPostManaged(bogus, &record, 1, 1, 0));
    }

    [Fact]
    public void Bad_arguments_on_a_live_engine_are_refused_and_post_nothing()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(4));
        try
        {
            NativeExit outOfRange = Abi.Icr(4, 1, 0x40);
            NativeExit* batch = stackalloc NativeExit[3] { Abi.Icr(0, 1, 0x41), Abi.Icr(9, 1, 0x42), Abi.Icr(1, 0, 0x43) };
            NativePending pending;
            NativeCounters counters = default;

            Assert.Equal(Status.NullPointer, Abi.Post(engine, null));
            Assert.Equal(Status.NullPointer, Abi.TryPost(engine, null));
            Assert.Equal(Status.VcpuRange, Abi.Post(engine, &outOfRange));
            Assert.Equal(Status.VcpuRange, Abi.TryPost(engine, &outOfRange));
            Assert.Equal(Status.NullPointer, Abi.PostBatch(engine, null, 2));
            Assert.Equal(Status.Ok, Abi.PostBatch(engine, null, 0));
            Assert.Equal(Status.VcpuRange, Abi.PostBatch(engine, batch, 3));
            Assert.Equal(Status.VcpuRange, Abi.Pending(engine, 4));
            Assert.Equal(Status.VcpuRange, Abi.TakePending(engine, uint.MaxValue, &pending));
            Assert.Equal(Status.NullPointer, Abi.TakePending(engine, 0, null));
            Assert.Equal(Status.BadRegister, Abi.TopologyWrite(engine, 0, 0x300, 0));
            Assert.Equal(Status.BadRegister, Abi.TopologyWrite(engine, 0, 0x1_0000_0F0, 0));
            Assert.Equal(Status.VcpuRange, Abi.TopologyWrite(engine, 4, 0x80F, 0x1FF));
            Assert.Equal(Status.NullPointer, Abi.Counters(engine, null));
            Assert.Equal(Status.StructSize, Abi.Counters(engine, &counters));
            Assert.Equal(Status.VcpuRange, Abi.BenchPostManaged(engine, batch, 3, 1, 0));

            counters.StructSize = (uint)sizeof(NativeCounters);
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(0ul, counters.Posted);
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Start_twice_is_a_state_error_and_start_after_stop_says_stopped()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        Assert.Equal(Status.Ok, Abi.Start(engine));
        Assert.Equal(Status.State, Abi.Start(engine));
        Assert.Equal(Status.Ok, Abi.Stop(engine));
        Assert.Equal(Status.Stopped, Abi.Start(engine));
        Assert.Equal(Status.Ok, Abi.Stop(engine));
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Fact]
    public void Posting_after_stop_is_refused_but_pending_and_counters_still_read()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        NativeExit record = Abi.Icr(0, 1, 0x40);
        Assert.Equal(Status.Ok, Abi.Start(engine));
        Assert.Equal(Status.Ok, Abi.Post(engine, &record));
        Assert.Equal(Status.Ok, Abi.Stop(engine));

        Assert.Equal(Status.Stopped, Abi.Post(engine, &record));
        Assert.Equal(Status.Stopped, Abi.TryPost(engine, &record));
        Assert.Equal(Status.Stopped, Abi.PostBatch(engine, &record, 1));
        Assert.Equal(Status.Stopped, Abi.TopologyWrite(engine, 0, 0x80F, 0x1FF));
        NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
        Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
        Assert.Equal(1ul, counters.Posted);
        NativePending pending;
        Assert.True(Abi.TakePending(engine, 1, &pending) >= 0);
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
    }

    [Fact]
    public void Destroy_twice_and_use_after_destroy_are_refused_even_when_the_slot_is_reused()
    {
        NativeConfig config = Abi.Config(2);
        ulong engine = Abi.CreateOrFail(config);
        Assert.Equal(Status.Ok, Abi.Destroy(engine));
        Assert.Equal(Status.BadHandle, Abi.Destroy(engine));
        NativeExit record = Abi.Icr(0, 1, 0x40);
        Assert.Equal(Status.BadHandle, Abi.Post(engine, &record));

        // Creating again may land in the same slot: the generation must tell the handles apart.
        ulong again = Abi.CreateOrFail(config);
        Assert.NotEqual(engine, again);
        Assert.Equal(Status.BadHandle, Abi.Start(engine));
        Assert.Equal(Status.BadHandle, Abi.Destroy(engine));
        Assert.Equal(Status.Ok, Abi.Destroy(again));
    }

    [Fact]
    public void Counters_fill_no_further_than_the_callers_struct_size()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            NativeExit record = Abi.Icr(0, 1, 0x40);
            Assert.Equal(Status.Ok, Abi.Post(engine, &record));
            NativeCounters counters = new() { StructSize = NativeCounters.MinimumSize };
            counters.RejectedByReason[0] = 0xAAAA;
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(1ul, counters.Posted);
            Assert.Equal(NativeCounters.MinimumSize, counters.StructSize);
            Assert.Equal(0xAAAAul, counters.RejectedByReason[0]); // past the caller's size: untouched
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }
}
