using System.Text.Json;
using System.Text.RegularExpressions;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Records;

/// <summary>
/// Turns BenchmarkDotNet full JSON exports (one per benchmark class) and the suite's manifest into
/// one <see cref="PerfRecord"/>: raw samples, quartiles, allocated bytes per operation, categories
/// and the calibration state of every benchmark. A benchmark that started but left no statistics is
/// kept as failed, so nothing disappears from the record.
/// </summary>
public static partial class RecordConverter
{
    /// <summary>Builds a record from export files on disk.</summary>
    /// <exception cref="PerfInputException">A file is missing or is not a BenchmarkDotNet full JSON export.</exception>
    public static PerfRecord Convert(
        IReadOnlyList<string> fullJsonPaths,
        SuiteRunManifest? manifest,
        CommitInfo commit,
        DateTimeOffset startedUtc,
        int? round = null)
    {
        ArgumentNullException.ThrowIfNull(fullJsonPaths);
        var reports = new List<BdnFullReport>(fullJsonPaths.Count);
        foreach (var path in fullJsonPaths)
        {
            reports.Add(ReadExport(path));
        }
        return Convert(reports, manifest, commit, startedUtc, round);
    }

    /// <summary>Parses one full JSON export.</summary>
    /// <exception cref="PerfInputException">The file is missing or malformed.</exception>
    internal static BdnFullReport ReadExport(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PerfInputException($"Cannot read the BenchmarkDotNet export {path}: {e.Message}", e);
        }
        try
        {
            // Some exporters write bare NaN/Infinity, which is not JSON: read them as null.
            var report = JsonSerializer.Deserialize(BareNonFinite().Replace(text, "null"), BdnJsonContext.Default.BdnFullReport);
            if (report?.Benchmarks is null || report.HostEnvironmentInfo is null)
            {
                throw new PerfInputException($"{path} is not a BenchmarkDotNet full JSON export (no Benchmarks or HostEnvironmentInfo).");
            }
            return report;
        }
        catch (JsonException e)
        {
            throw new PerfInputException($"{path} is not valid JSON ({e.Message}).", e);
        }
    }

    internal static PerfRecord Convert(
        IReadOnlyList<BdnFullReport> reports,
        SuiteRunManifest? manifest,
        CommitInfo commit,
        DateTimeOffset startedUtc,
        int? round)
    {
        if (reports.Count == 0 && manifest?.ValidationErrors.Count > 0)
        {
            throw new PerfInputException($"BenchmarkDotNet refused the benchmarks: {manifest.ValidationErrors[0]}");
        }
        if (reports.Count == 0)
        {
            throw new PerfInputException("No BenchmarkDotNet export was written: no benchmark matched, or the suite failed before running any.");
        }
        var host = reports[0].HostEnvironmentInfo!;
        var thresholds = manifest?.Thresholds ?? Calibration.CoreDistanceThresholds.Default;
        var fromManifest = new Dictionary<string, ManifestBenchmark>(StringComparer.Ordinal);
        foreach (var benchmark in manifest?.Benchmarks ?? [])
        {
            fromManifest[benchmark.FullName] = benchmark;
        }

        var results = new List<BenchmarkResult>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var report in reports)
        {
            foreach (var benchmark in report.Benchmarks!)
            {
                var id = benchmark.FullName ?? $"{benchmark.Type}.{benchmark.Method}({benchmark.Parameters})";
                if (!seen.Add(id))
                {
                    continue;
                }
                fromManifest.TryGetValue(id, out var notes);
                results.Add(ToResult(id, benchmark, notes, thresholds));
            }
        }
        // Started (in the manifest) but absent from every export: failed, not forgotten.
        foreach (var notes in manifest?.Benchmarks ?? [])
        {
            if (seen.Add(notes.FullName))
            {
                results.Add(ToResult(notes.FullName, null, notes, thresholds));
            }
        }

        int logicalCores = host.LogicalCoreCount ?? 0;
        return new PerfRecord
        {
            Commit = commit,
            Machine = new MachineInfo
            {
                Id = MachineIdentity.From(host.ProcessorName, logicalCores, host.OsVersion),
                Cpu = host.ProcessorName ?? "",
                LogicalCores = logicalCores,
                PhysicalCores = host.PhysicalCoreCount ?? 0,
                Os = host.OsVersion ?? "",
                Architecture = host.Architecture ?? "",
            },
            Run = new RunInfo
            {
                StartedUtc = startedUtc,
                BenchmarkDotNet = host.BenchmarkDotNetVersion ?? "",
                Runtime = host.RuntimeVersion ?? "",
                Sdk = host.DotNetCliVersion ?? "",
                Job = manifest?.Profile,
                Calibration = thresholds,
                Round = round,
                ValidationErrors = manifest?.ValidationErrors ?? [],
            },
            Benchmarks = results,
        };
    }

    private static BenchmarkResult ToResult(string id, BdnBenchmark? benchmark, ManifestBenchmark? notes, Calibration.CoreDistanceThresholds thresholds)
    {
        var statistics = benchmark?.Statistics;
        var samples = statistics?.OriginalValues ?? [];
        double? before = notes?.Before?.RoundTripNs;
        double? after = notes?.After?.RoundTripNs;
        return new BenchmarkResult
        {
            Id = id,
            Categories = notes?.Categories ?? [],
            Failed = samples.Count == 0,
            Samples = samples,
            Median = samples.Count == 0 ? null : statistics!.Median,
            Q1 = samples.Count == 0 ? null : statistics!.Q1,
            Q3 = samples.Count == 0 ? null : statistics!.Q3,
            // A failed benchmark reports 0 bytes; that is no measurement.
            AllocatedBytesPerOp = samples.Count == 0 ? null : benchmark?.Memory?.BytesAllocatedPerOperation,
            Calibration = new BenchmarkCalibration
            {
                BeforeNs = before,
                AfterNs = after,
                State = thresholds.Classify(before, after),
            },
        };
    }

    [GeneratedRegex(@"(?<=[:\[,]\s*)-?(NaN|Infinity)(?=\s*[,\]}])")]
    private static partial Regex BareNonFinite();
}
