using BenchmarkDotNet.Attributes;
using IpiEngine.Apic;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// What a guest feels: the round trip of one IPI bounced between two vCPUs through a running engine, as
/// <c>ipi run --workload ping-pong --vcpus 2</c> does. The benchmark thread is vCPU 0: it posts a RESCHEDULE IPI to
/// vCPU 1 and spins on <see cref="Engine.TakePending"/> until the answer is pending; a partner thread, vCPU 1, spins on
/// its own pending interrupts and answers each ping with one IPI back. One operation = one round trip (two posts, two
/// resolutions and deliveries, two takes). Goal (issue 19): p50 at most 2 µs in the near state. Fused mode with and
/// without the idle assist (a post that finds the pipeline thread parked delivers itself), and per-stage.
/// </summary>
[BenchmarkCategory("EndToEnd", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class PingPongBenchmarks
{
    // The CI smoke run saw 1 B/op for per-stage at 256 round trips per invocation: about 256 B once per invocation,
    // somewhere in the process (as WaitForPendingBenchmarks found for its async rounds), not per round trip. At 2048
    // round trips per invocation that is under the 1 B resolution; an allocation per round trip would still show.
    private const int RoundTrips = 2048;
    private const byte Vector = 0xFD;
    private Engine _engine = null!;
    private Thread _partner = null!;
    private volatile bool _closing;

    /// <summary>The engine configurations compared.</summary>
    public enum PingPongPipeline
    {
        /// <summary>Fused mode, the default: with the idle assist.</summary>
        Fused,
        /// <summary>Fused mode with <see cref="EngineOptions.AssistIdlePipeline"/> off: every delivery on the pipeline thread.</summary>
        FusedWithoutAssist,
        /// <summary>Per-stage mode.</summary>
        PerStage,
    }

    /// <summary>The engine's threading mode and assist setting.</summary>
    [Params(PingPongPipeline.Fused, PingPongPipeline.FusedWithoutAssist, PingPongPipeline.PerStage)]
    public PingPongPipeline Pipeline { get; set; }

    /// <summary>A running two-vCPU engine and the answering vCPU's thread.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _engine = new Engine(new EngineOptions
        {
            Topology = TrafficRecords.Topology(2),
            ThreadingMode = Pipeline == PingPongPipeline.PerStage ? ThreadingMode.PerStage : ThreadingMode.Fused,
            AssistIdlePipeline = Pipeline != PingPongPipeline.FusedWithoutAssist,
            Name = "bench-pingpong",
        });
        _engine.Start();
        _closing = false;
        _partner = new Thread(Answer) { IsBackground = true, Name = "vcpu-1" };
        _partner.Start();
    }

    /// <summary>Stops the partner and the engine.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _closing = true;
        _partner.Join();
        _engine.Dispose();
    }

    /// <summary>Bounces the IPI <see cref="RoundTrips"/> times.</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public void RoundTrip()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        for (int i = 0; i < RoundTrips; i++)
        {
            _engine.Post(0, ApicRegister.X2Icr, Icr(destination: 1), 1);
            SpinWait spin = default;
            while (!_engine.TakePending(0).IsPending(Vector))
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    private static ulong Icr(uint destination) => (ulong)destination << 32 | 1u << 14 | Vector; // fixed, physical, assert

    private void Answer()
    {
        SpinWait spin = default;
        while (!_closing)
        {
            if (_engine.TakePending(1).IsPending(Vector))
            {
                _engine.Post(1, ApicRegister.X2Icr, Icr(destination: 0), 0);
                spin = default;
                continue;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
