using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Comparison;

/// <summary>One benchmark's samples pooled over one side's records, kept apart by calibration state.</summary>
internal sealed class PooledBenchmark
{
    private readonly Dictionary<CoreDistanceState, List<double>> _byState = [];

    public List<double> AllSamples { get; } = [];

    /// <summary>One observation per launch, in run order.</summary>
    public List<LaunchObservation> Launches { get; } = [];
    public List<long> Allocated { get; } = [];
    public bool CrossThread { get; private set; }
    public bool Baseline { get; private set; }

    /// <summary>
    /// Adds one record's result; <paramref name="launchCount"/> is the record's launches per
    /// benchmark, whose iterations BenchmarkDotNet lists launch after launch. All launches of one
    /// result share the probe readings around it, so they share its state.
    /// </summary>
    public void Add(BenchmarkResult result, int launchCount, int? round = null, bool interleaved = false)
    {
        CrossThread |= SuiteCategories.IsCrossThread(result.Categories);
        Baseline |= result.HasCategory(SuiteCategories.Baselines);
        if (result.Failed)
        {
            return;
        }
        AllSamples.AddRange(result.Samples);
        if (!_byState.TryGetValue(result.Calibration.State, out var samples))
        {
            _byState[result.Calibration.State] = samples = [];
        }
        samples.AddRange(result.Samples);
        int launches = launchCount > 1 && result.Samples.Count % launchCount == 0 ? launchCount : 1;
        int perLaunch = result.Samples.Count / launches;
        for (int launch = 0; launch < launches; launch++)
        {
            var iterations = new double[perLaunch];
            for (int i = 0; i < perLaunch; i++)
            {
                iterations[i] = result.Samples[(launch * perLaunch) + i];
            }
            // An interleaved round's samples are its block medians, paired in order with the other side's.
            Launches.Add(new LaunchObservation(SampleTest.Median(iterations), result.Calibration.State, round, interleaved ? iterations : null));
        }
        if (result.AllocatedBytesPerOp is { } bytes)
        {
            Allocated.Add(bytes);
        }
    }

    public List<double> SamplesIn(CoreDistanceState state) =>
        _byState.TryGetValue(state, out var samples) ? samples : [];

    public string States() => _byState.Count == 0
        ? "none"
        : string.Join("+", _byState.Keys.Order().Select(RunComparer.StateName));
}
