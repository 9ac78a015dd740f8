using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// Inline mode as a single-threaded simulator drives it: one thread posts, and each post resolves and delivers on that
/// thread before it returns (no pipeline thread, no hand-off). One record per call and 64 per call; unicast. One
/// operation = one IPI. Goal: 0 B allocated per IPI (tagged ZeroAlloc: the CI smoke run fails if a post allocates).
/// </summary>
[BenchmarkCategory("EndToEnd", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class InlineModeBenchmarks
{
    private const int Ipis = 1 << 16;
    private EngineRig _rig = null!;

    /// <summary>Records per call: 1 (<see cref="Engine.Post"/>) or 64 (<see cref="Engine.PostBatch"/>).</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    /// <summary>Builds an inline engine and its one posting thread.</summary>
    [GlobalSetup]
    public void Setup() => _rig = new EngineRig(1, ThreadingMode.Inline, WaitStrategyKind.Hybrid, Traffic.Unicast, Ipis, batchSize: Batch);

    /// <summary>Stops them.</summary>
    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    /// <summary>Posts (and so delivers) <see cref="Ipis"/> IPIs.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    public void PostAndDeliverInline() => _rig.RunOnce();
}
