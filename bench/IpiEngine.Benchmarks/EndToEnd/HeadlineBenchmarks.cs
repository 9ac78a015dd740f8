using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using IpiEngine.Benchmarks.Baselines;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Probe;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// The headline comparison in one table: 8 producer threads, unicast, the engine (fused and per-stage) against
/// the probe (<see cref="ProbeRig"/>: the engine's bare shape, the most that shape allows on this machine right now) and
/// against the same flow built on bounded Channels and on ConcurrentQueue. Rows are grouped by records per call: 64
/// (PostBatch; the probe publishes 64 per release store) and 1 (one Post per record; the probe one release store per
/// record; Channels and ConcurrentQueue, whose APIs have no batch write). The probe is each group's baseline, so
/// BenchmarkDotNet's ratio column is the engine's time over the probe's (the rate ratio's inverse; goal: at most 1.33,
/// i.e. at least 0.75 of the probe's rate). BenchmarkDotNet groups rows by their whole category set, so Channels and
/// ConcurrentQueue (not ZeroAlloc) form a third group without a ratio: compare their IPIs/s column. One operation =
/// one IPI. Goal also: fused at least 20 M IPIs/s, 0 B per IPI.
/// </summary>
[BenchmarkCategory("EndToEnd", "Headline")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[MemoryDiagnoser]
public class HeadlineBenchmarks
{
    private const int Producers = 8;
    private const int Ipis = 1 << 18;
    private const string PerCall64 = "PerCall64";
    private const string PerCall1 = "PerCall1";
    private ChannelsRig? _channels;
    private ConcurrentQueueRig? _queues;
    private EngineRig? _engine;
    private ProbeRig? _probe;

    /// <summary>Builds the probe publishing 64 records per release store.</summary>
    [GlobalSetup(Target = nameof(ProbeBatched))]
    public void SetupProbeBatched() => _probe = new ProbeRig(Producers, batch: 64);

    /// <summary>Builds the probe publishing each record alone.</summary>
    [GlobalSetup(Target = nameof(ProbeSinglePost))]
    public void SetupProbeSingle() => _probe = new ProbeRig(Producers, batch: 1);

    /// <summary>Builds the Channels rig.</summary>
    [GlobalSetup(Target = nameof(Channels))]
    public void SetupChannels() => _channels = new ChannelsRig(Producers, Ipis, capacity: 4096);

    /// <summary>Builds the ConcurrentQueue rig.</summary>
    [GlobalSetup(Target = nameof(ConcurrentQueues))]
    public void SetupQueues() => _queues = new ConcurrentQueueRig(Producers, Ipis);

    /// <summary>Builds a fused engine.</summary>
    [GlobalSetup(Target = nameof(EngineFused))]
    public void SetupFused() => _engine = new EngineRig(Producers, ThreadingMode.Fused, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis);

    /// <summary>Builds a fused engine whose producers post one record per call (no batching).</summary>
    [GlobalSetup(Target = nameof(EngineFusedSinglePost))]
    public void SetupFusedSingle() => _engine = new EngineRig(Producers, ThreadingMode.Fused, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis, batchSize: 1);

    /// <summary>
    /// Builds a per-stage engine with its threads placed (gather on the first CPU this process may use, resolve and
    /// deliver together on the second): left to the OS, the placement of resolve and deliver decided its time, 12-18 ns
    /// per IPI together, 25-31 ns apart on far cores, so one launch measured the scheduler's choice more than the engine
    /// (docs/performance.md). On a machine with one CPU the OS places them.
    /// </summary>
    [GlobalSetup(Target = nameof(EnginePerStage))]
    public void SetupPerStage() => _engine = new EngineRig(Producers, ThreadingMode.PerStage, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis,
        pipelineCpus: ThreadAffinity.TwoAllowedCpus() is { } cpus ? [cpus.First, cpus.Second, cpus.Second] : null);

    /// <summary>Stops whichever rig ran.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _channels?.Dispose();
        _queues?.Dispose();
        _engine?.Dispose();
        _probe?.Dispose();
    }

    /// <summary>The probe, 64 records per publication: the baseline of the batched group.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall64, SuiteCategories.ZeroAlloc)]
    public void ProbeBatched()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _probe!.RunOnce(Ipis / Producers);
    }

    /// <summary>The probe, one record per publication: the baseline of the one-per-call group.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall1, SuiteCategories.ZeroAlloc)]
    public void ProbeSinglePost()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _probe!.RunOnce(Ipis / Producers);
    }

    /// <summary>8 bounded channels (one per vCPU), one reader resolving and delivering.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall1, "Baselines")] // a library's queue, not the engine: its allocations are reported, never gated
    public void Channels()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _channels!.RunOnce();
    }

    /// <summary>ConcurrentQueues (one per vCPU), one reader resolving and delivering.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall1, "Baselines")] // a library's queue, not the engine: its allocations are reported, never gated
    public void ConcurrentQueues()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _queues!.RunOnce();
    }

    /// <summary>The engine, fused mode.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall64, SuiteCategories.ZeroAlloc)]
    public void EngineFused()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    /// <summary>The engine, fused mode, one <c>Post</c> per record (as an exit handler without batching posts).</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall1, SuiteCategories.ZeroAlloc)]
    public void EngineFusedSinglePost()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    /// <summary>The engine, per-stage mode, its threads placed (<see cref="SetupPerStage"/>).</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(PerCall64, SuiteCategories.ZeroAlloc)]
    public void EnginePerStage()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }
}
