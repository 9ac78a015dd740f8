using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using HdrHistogram;
using IpiEngine.Load;
using IpiEngine.Pipeline;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// Post-to-delivery latency under a steady offered load (unicast, fused and per-stage), recorded with HdrHistogram;
/// p50 / p99 / p99.9 of the last iteration (a measured one: BenchmarkDotNet ends with them; the histogram is reset before
/// each, so the pilot and warm-up runs do not count) are printed after the run (the timing columns only show the load's
/// duration); a latency past the histogram's 1 s is recorded as 1 s and counted. One producer
/// leaves a core to the pipeline (the engine's own latency); eight paced producers on two cores add the scheduler's
/// share-out to it. One operation = one producer's IPI (the producers post in parallel).
/// </summary>
[BenchmarkCategory("EndToEnd")]
[MemoryDiagnoser]
public class LatencyBenchmarks
{
    private const int PerProducer = 20_000;
    private readonly LongHistogram _histogram = new(TimeStamp.Seconds(1), 3);
    private long _clipped; // latencies past the histogram's range, recorded at its top

    /// <summary>Paced producer threads.</summary>
    [Params(1, 8)]
    public int Producers { get; set; }

    /// <summary>IPIs per second each producer offers.</summary>
    [Params(20_000, 200_000)]
    public int RatePerProducer { get; set; }

    /// <summary>Fused or per-stage.</summary>
    [Params(ThreadingMode.Fused, ThreadingMode.PerStage)]
    public ThreadingMode Mode { get; set; }

    /// <summary>Starts each iteration's latencies afresh (one invocation per iteration: each runs the whole load).</summary>
    [IterationSetup]
    public void ResetLatencies()
    {
        _histogram.Reset();
        _clipped = 0;
    }

    /// <summary>Runs the load once and records every delivery's latency.</summary>
    [Benchmark(OperationsPerInvoke = PerProducer)]
    public void SteadyLoadLatency()
        => SteadyLoad.Run(
            new SteadyLoadOptions { Producers = Producers, RatePerProducer = RatePerProducer, IpisPerProducer = PerProducer, Mode = Mode },
            ticks => _histogram.RecordValue(Clip(ticks)));

    private long Clip(long ticks)
    {
        if (ticks <= _histogram.HighestTrackableValue)
        {
            return Math.Max(0, ticks);
        }

        _clipped++; // the callback runs on this thread, after the load's Stop (SteadyLoad replays the delivery log)
        return _histogram.HighestTrackableValue;
    }

    /// <summary>Prints the latency percentiles.</summary>
    [GlobalCleanup]
    public void Report()
    {
        double Micros(double percentile) => _histogram.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
        Console.WriteLine(
            $"// latency {Mode} {Producers} x {RatePerProducer}/s: p50 {Micros(50):F1} us, p99 {Micros(99):F1} us, p99.9 {Micros(99.9):F1} us, max {_histogram.GetMaxValue() * 1e6 / Stopwatch.Frequency:F1} us ({_histogram.TotalCount} deliveries of the last iteration, {_clipped} past 1 s)");
    }
}
