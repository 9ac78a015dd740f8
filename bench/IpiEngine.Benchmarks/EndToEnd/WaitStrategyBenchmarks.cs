using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>Each wait strategy end to end: 8 producers, unicast, fused and per-stage. One operation = one IPI.</summary>
[BenchmarkCategory("EndToEnd", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class WaitStrategyBenchmarks
{
    private const int Ipis = 1 << 18;
    private EngineRig _rig = null!;

    /// <summary>The wait strategy.</summary>
    [Params(WaitStrategyKind.Hybrid, WaitStrategyKind.BusySpin, WaitStrategyKind.Yielding, WaitStrategyKind.Sleeping, WaitStrategyKind.Blocking)]
    public WaitStrategyKind Wait { get; set; }

    /// <summary>Fused or per-stage.</summary>
    [Params(ThreadingMode.Fused, ThreadingMode.PerStage)]
    public ThreadingMode Mode { get; set; }

    /// <summary>Starts the engine and the producers.</summary>
    [GlobalSetup]
    public void Setup() => _rig = new EngineRig(8, Mode, Wait, Traffic.Unicast, Ipis);

    /// <summary>Stops them.</summary>
    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    /// <summary>Posts and delivers the IPIs.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    public void PostAndDeliver() => _rig.RunOnce();
}
