using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// The calibration probe's two building blocks as benchmarks: a cache-line round trip between two
/// threads (what the machine's core distance costs every cross-thread hand-off) and a timestamp
/// read (the floor under every latency the engine measures). They also give the suite machinery a
/// cross-thread and a single-threaded benchmark of its own to smoke-test.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Calibration")]
public class CalibrationBenchmarks
{
    private const int RoundTripsPerInvoke = 1_000;
    private PingPongPartner? _partner;

    /// <summary>Starts the partner thread that answers every ping.</summary>
    [GlobalSetup(Target = nameof(CacheLineRoundTrip))]
    public void StartPartner() => _partner = PingPongPartner.Start();

    /// <summary>Stops the partner thread.</summary>
    [GlobalCleanup(Target = nameof(CacheLineRoundTrip))]
    public void StopPartner() => _partner?.Dispose();

    /// <summary>One cache-line round trip to the partner thread and back (an operation = one round trip).</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    [BenchmarkCategory(SuiteCategories.CrossThread, SuiteCategories.ZeroAlloc)]
    public long CacheLineRoundTrip() => _partner!.RoundTrips(RoundTripsPerInvoke);

    /// <summary>One <see cref="Stopwatch.GetTimestamp"/> read.</summary>
    [Benchmark]
    [BenchmarkCategory(SuiteCategories.ZeroAlloc)]
    public long TimestampRead() => Stopwatch.GetTimestamp();
}
