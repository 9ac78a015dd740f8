using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// The engine end to end (post, gather, resolve, batch, deliver into descriptors): 1, 2, 8 and 64 producer threads,
/// unicast / multicast / mixed, fused vs per-stage, default wait strategy. One operation = one IPI.
/// Goal (fused, 8 producers, unicast): at least 20 M IPIs/s, 0 B allocated per IPI.
/// </summary>
[BenchmarkCategory("EndToEnd", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class EngineThroughputBenchmarks
{
    private const int Ipis = 1 << 18;
    private EngineRig _rig = null!;

    /// <summary>Producer threads (vCPU threads posting).</summary>
    [Params(1, 2, 8, 64)]
    public int Producers { get; set; }

    /// <summary>Fused or per-stage.</summary>
    [Params(ThreadingMode.Fused, ThreadingMode.PerStage)]
    public ThreadingMode Mode { get; set; }

    /// <summary>The IPI mix.</summary>
    [Params(Traffic.Unicast, Traffic.Multicast, Traffic.Mixed)]
    public Traffic Traffic { get; set; }

    /// <summary>Starts the engine and the producers.</summary>
    [GlobalSetup]
    public void Setup() => _rig = new EngineRig(Producers, Mode, WaitStrategyKind.Hybrid, Traffic, Ipis);

    /// <summary>Stops them.</summary>
    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    /// <summary>Posts and delivers <see cref="Ipis"/> IPIs .</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    public void PostAndDeliver() => _rig.RunOnce();
}
