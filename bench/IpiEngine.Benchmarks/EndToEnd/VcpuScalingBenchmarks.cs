using BenchmarkDotNet.Attributes;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// Issue 19's scaling goal: the engine's cost must grow with the rings that are active, not with the vCPUs it serves.
/// 8 producer threads post unicast traffic to a fused engine of 8 vCPUs (the baseline: one vCPU per thread) and of
/// 1024 vCPUs, each thread posting for 128 of them in turn, one batch per vCPU (every ring active at once), one record
/// per call and 64 per call, with the engine's automatic ring capacity and with the old fixed 4096 records (128 MiB of
/// rings at 1024 vCPUs). Goal: the 1024-vCPU rate at least 0.8 of the 8-vCPU rate (BenchmarkDotNet's ratio column),
/// 0 B per IPI. One operation = one IPI.
/// </summary>
[BenchmarkCategory("EndToEnd", "Scaling")]
[MemoryDiagnoser]
public class VcpuScalingBenchmarks
{
    private const int Producers = 8;
    private const int Ipis = 1 << 18; // 256 records per vCPU at 1024 vCPUs
    private EngineRig? _engine;

    /// <summary>Records per post call.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    /// <summary>Records per vCPU ring: 0 is the engine's automatic default (256 at 1024 vCPUs), 4096 the old fixed default.</summary>
    [Params(0, 4096)]
    public int Ring { get; set; }

    /// <summary>Builds the 8-vCPU engine.</summary>
    [GlobalSetup(Target = nameof(Vcpus8))]
    public void Setup8() => _engine = Rig(8);

    /// <summary>Builds the 1024-vCPU engine.</summary>
    [GlobalSetup(Target = nameof(Vcpus1024))]
    public void Setup1024() => _engine = Rig(1024);

    /// <summary>Stops the engine.</summary>
    [GlobalCleanup]
    public void Cleanup() => _engine?.Dispose();

    /// <summary>8 vCPUs, one per producer thread.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(SuiteCategories.CrossThread, SuiteCategories.ZeroAlloc)]
    public void Vcpus8()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    /// <summary>1024 vCPUs, 128 per producer thread, all active.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    [BenchmarkCategory(SuiteCategories.CrossThread, SuiteCategories.ZeroAlloc)]
    public void Vcpus1024()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        _engine!.RunOnce();
    }

    private EngineRig Rig(int vcpus)
        => new(Producers, ThreadingMode.Fused, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis, batchSize: Batch, vcpus: vcpus, interleave: true, ringCapacity: Ring);
}
