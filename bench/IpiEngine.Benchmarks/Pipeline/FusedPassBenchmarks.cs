using BenchmarkDotNet.Attributes;
using IpiEngine.Benchmarks.EndToEnd;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Pipeline;

/// <summary>
/// The fused pipeline's work per record on one thread, without a thread hand-off: 8 vCPUs' batches are posted into an
/// engine that was never started, then gathered, resolved, batched and delivered inline. Separates the consumer's cost
/// (which bounds end-to-end throughput on 2 cores) from cross-core effects. One operation = one IPI.
/// </summary>
[BenchmarkCategory("Pipeline", SuiteCategories.SingleThread, SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class FusedPassBenchmarks
{
    private const int Vcpus = 8;
    private const int PerVcpu = 512;
    private const int Batch = 64;
    private ExitRecord[][] _records = null!;
    private Engine _engine = null!;

    /// <summary>The IPI mix.</summary>
    [Params(Traffic.Unicast, Traffic.Mixed)]
    public Traffic Traffic { get; set; }

    /// <summary>Builds an engine that is never started.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _records = new ExitRecord[Vcpus][];
        for (int v = 0; v < Vcpus; v++)
        {
            _records[v] = TrafficRecords.For(v, Vcpus, Traffic, PerVcpu);
        }

        _engine = new Engine(new EngineOptions { Topology = TrafficRecords.Topology(Vcpus), Name = "bench-inline" });
    }

    /// <summary>Frees the engine.</summary>
    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    /// <summary>Posts 8 x 512 records in batches of 64, then drains them inline.</summary>
    [Benchmark(OperationsPerInvoke = Vcpus * PerVcpu)]
    public void PostThenDrain()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        for (int v = 0; v < Vcpus; v++)
        {
            ReadOnlySpan<ExitRecord> records = _records[v];
            for (int i = 0; i < records.Length; i += Batch)
            {
                _engine.PostBatch(v, records.Slice(i, Batch));
            }
        }

        _engine.DrainQueuedInline();
    }

    /// <summary>
    /// One record per vCPU, posted one at a time, then a drain; 512 times. The consumer's cost when posts come one by one
    /// (the single-post flow): each pass finds one record per ring, so its fixed costs (the doorbell scan, the ring
    /// visits, the counters, the flush) are shared by 8 records instead of 64 per ring. A drain also takes the engine's
    /// control lock and ends with an empty pass, which a pipeline thread's pass does not: an upper bound on what a
    /// pass that finds one record per ring costs, read beside <see cref="PostThenDrain"/> (figures: docs/performance.md).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Vcpus * PerVcpu)]
    public void PostOneEachThenDrain()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        for (int i = 0; i < PerVcpu; i++)
        {
            for (int v = 0; v < Vcpus; v++)
            {
                ref readonly ExitRecord r = ref _records[v][i];
                _engine.Post(v, r.Register, r.Value, r.DestinationId, r.Tag);
            }

            _engine.DrainQueuedInline();
        }
    }
}
