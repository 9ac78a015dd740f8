using BenchmarkDotNet.Attributes;
using IpiEngine.Benchmarks.Baselines;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// The headline comparison in one table: 8 producer threads, unicast, the engine (fused and per-stage) against
/// the same flow built on bounded Channels (the baseline: BenchmarkDotNet prints each row's ratio to it) and on
/// ConcurrentQueue. The engine's producers publish 64 records per call (PostBatch) and, in one row, one per call;
/// the baselines write one item per call (their APIs have no batch write). One operation = one IPI. Goal: fused at least 20 M IPIs/s and at least 10x Channels, 0 B per IPI.
/// </summary>
[BenchmarkCategory("EndToEnd", "Headline")]
[MemoryDiagnoser]
public class HeadlineBenchmarks
{
    private const int Producers = 8;
    private const int Ipis = 1 << 18;
    private ChannelsRig? _channels;
    private ConcurrentQueueRig? _queues;
    private EngineRig? _engine;

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

    /// <summary>Builds a per-stage engine.</summary>
    [GlobalSetup(Target = nameof(EnginePerStage))]
    public void SetupPerStage() => _engine = new EngineRig(Producers, ThreadingMode.PerStage, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis);

    /// <summary>Stops whichever rig ran.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _channels?.Dispose();
        _queues?.Dispose();
        _engine?.Dispose();
    }

    /// <summary>8 bounded channels (one per vCPU), one reader resolving and delivering.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ipis)]
    public void Channels()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _channels!.RunOnce();
    }

    /// <summary>ConcurrentQueues (one per vCPU), one reader resolving and delivering.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    public void ConcurrentQueues()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _queues!.RunOnce();
    }

    /// <summary>The engine, fused mode.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(SuiteCategories.ZeroAlloc)]
    public void EngineFused()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    /// <summary>The engine, fused mode, one <c>Post</c> per record (as an exit handler without batching posts).</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(SuiteCategories.ZeroAlloc)]
    public void EngineFusedSinglePost()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    /// <summary>The engine, per-stage mode.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(SuiteCategories.ZeroAlloc)]
    public void EnginePerStage()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }
}
