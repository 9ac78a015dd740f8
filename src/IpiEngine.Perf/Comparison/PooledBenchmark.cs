using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Comparison;

/// <summary>One benchmark's samples pooled over one side's records, kept apart by calibration state.</summary>
internal sealed class PooledBenchmark
{
    private readonly Dictionary<CoreDistanceState, List<double>> _byState = [];

    public List<double> AllSamples { get; } = [];
    public List<long> Allocated { get; } = [];
    public bool CrossThread { get; private set; }
    public bool Baseline { get; private set; }

    public void Add(BenchmarkResult result)
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
