using BenchmarkDotNet.EventProcessors;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// Runs the calibration probe in the host process right before and right after each benchmark
/// (while no benchmark process runs) and keeps the readings, with each benchmark's categories, in
/// the run's manifest. The manifest is rewritten after every benchmark, so a run that dies halfway
/// still leaves the readings of what it measured.
/// </summary>
public sealed class CalibrationRecorder(SuiteProfile profile, string manifestPath) : EventProcessor
{
    private readonly CoreDistanceProbe _probe = new();
    private readonly List<ManifestBenchmark> _benchmarks = [];
    private readonly List<string> _validationErrors = [];
    private CoreDistanceReading? _before;

    /// <inheritdoc />
    public override void OnValidationError(ValidationError validationError)
    {
        ArgumentNullException.ThrowIfNull(validationError);
        if (!validationError.IsCritical)
        {
            // Advice, not failure: e.g. "assembly is located in temp" when the repository itself was cloned under /tmp.
            // The benchmark still runs and is recorded; only errors that stop a benchmark belong in the record.
            return;
        }

        _validationErrors.Add(validationError.Message);
        Save();
    }

    /// <inheritdoc />
    public override void OnStartRunBenchmark(BenchmarkCase benchmarkCase) => _before = _probe.Measure();

    /// <inheritdoc />
    public override void OnEndRunBenchmark(BenchmarkCase benchmarkCase, BenchmarkReport report)
    {
        ArgumentNullException.ThrowIfNull(benchmarkCase);
        _benchmarks.Add(new ManifestBenchmark
        {
            // The same name the JSON exporter writes as FullName: the join key.
            FullName = FullNameProvider.GetBenchmarkName(benchmarkCase),
            Categories = benchmarkCase.Descriptor.Categories,
            Before = _before,
            After = _probe.Measure(),
        });
        _before = null;
        Save();
    }

    private void Save() => new SuiteRunManifest
    {
        Profile = profile,
        Benchmarks = _benchmarks,
        ValidationErrors = _validationErrors,
    }.Save(manifestPath);
}
