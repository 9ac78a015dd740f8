using BenchmarkDotNet.Attributes;
using IpiEngine.Benchmarks.EndToEnd;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Delivery;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Pipeline;

/// <summary>
/// An embedder's own notifier struct (<see cref="Engine.Create{TNotifier}"/>) on the fused pass, inline on one thread as
/// in <see cref="FusedPassBenchmarks"/>: 8 vCPUs post a batch each, the pass delivers and notifies (the engine's waiter
/// check, then the embedder's struct), and each vCPU takes its interrupts, so every round notifies again. Shows the
/// generic notifier path allocates nothing. One operation = one IPI.
/// </summary>
[BenchmarkCategory("Pipeline", SuiteCategories.SingleThread, SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class EmbedderNotifierBenchmarks
{
    private const int Vcpus = 8;
    private const int PerVcpu = 64;
    private readonly long[] _kicks = new long[Vcpus];
    private ExitRecord[][] _records = null!;
    private Engine _engine = null!;

    /// <summary>The embedder's notifier: counts kicks in an array it references (the engine copies the struct).</summary>
    private readonly struct CountingNotifier(long[] kicks) : IDeliveryNotifier
    {
        public void Notify(int vcpu) => Interlocked.Increment(ref kicks[vcpu]);
    }

    /// <summary>Builds an engine that is never started, with the embedder's notifier.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _records = new ExitRecord[Vcpus][];
        for (int v = 0; v < Vcpus; v++)
        {
            _records[v] = TrafficRecords.For(v, Vcpus, Traffic.Unicast, PerVcpu);
        }

        _engine = Engine.Create(new EngineOptions { Topology = TrafficRecords.Topology(Vcpus), Name = "bench-notifier" }, new CountingNotifier(_kicks));
    }

    /// <summary>Frees the engine.</summary>
    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    /// <summary>Posts 8 x 64 records, delivers them inline (notifying), then every vCPU takes what is pending.</summary>
    [Benchmark(OperationsPerInvoke = Vcpus * PerVcpu)]
    public void PostDeliverTake()
    {
        PostAndDeliver();
        for (int v = 0; v < Vcpus; v++)
        {
            _engine.TakePending(v);
        }
    }

    /// <summary>As <see cref="PostDeliverTake"/>, but each vCPU takes through <see cref="Engine.WaitForPending"/> (already pending: no sleep).</summary>
    [Benchmark(OperationsPerInvoke = Vcpus * PerVcpu)]
    public void PostDeliverWait()
    {
        PostAndDeliver();
        for (int v = 0; v < Vcpus; v++)
        {
            _engine.WaitForPending(v, TimeSpan.Zero, out _);
        }
    }

    private void PostAndDeliver()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        for (int v = 0; v < Vcpus; v++)
        {
            _engine.PostBatch(v, _records[v]);
        }

        _engine.DrainQueuedInline();
    }
}
