using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using Perfolizer.Mathematics.Cpd;

namespace IpiEngine.Perf.Trend;

/// <summary>
/// Builds per-benchmark series of per-commit medians from clean records of one machine, and finds
/// steps in them with Perfolizer's EdPelt change-point detector. A cross-thread benchmark gets one
/// series per calibration state (near, far), because a switch of state would otherwise show up as
/// a step no commit caused; its mixed and unknown samples are left out. Records of different job settings (a
/// BenchmarkDotNet profile's iteration times, an interleaved round's block medians) are never pooled or drawn in one
/// series either, for the same reason: when the store holds more than one, each series is named with its job's.
/// </summary>
public static class TrendBuilder
{
    /// <summary>Builds the series.</summary>
    /// <param name="records">Records of any machines and commits; dirty ones are skipped.</param>
    /// <param name="machineId">The machine to draw.</param>
    /// <param name="include">Which benchmark ids to keep.</param>
    /// <param name="minDistance">Fewest commits between two change points.</param>
    public static IReadOnlyList<TrendSeries> Build(IEnumerable<PerfRecord> records, string machineId, Func<string, bool> include, int minDistance)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(include);
        // Commits in history order: commit date, then first run.
        var commits = records
            .Where(r => !r.Commit.Dirty && r.Machine.Id == machineId)
            .GroupBy(r => r.Commit.Sha, StringComparer.Ordinal)
            .Select(g => (Records: g.ToList(), When: g.First().Commit.CommittedUtc ?? g.Min(r => r.Run.StartedUtc)))
            .OrderBy(c => c.When)
            .ToList();

        var jobs = JobLabels(commits.SelectMany(c => c.Records).Where(r => r.Benchmarks.Any(b => !b.Failed && include(b.Id))));
        var pooled = new Dictionary<string, SortedDictionary<int, List<double>>>(StringComparer.Ordinal);
        for (int index = 0; index < commits.Count; index++)
        {
            foreach (var record in commits[index].Records)
            {
                var job = jobs[RunComparer.JobSignature(record.Run.Job)];
                foreach (var benchmark in record.Benchmarks)
                {
                    if (benchmark.Failed || !include(benchmark.Id) || SeriesName(benchmark) is not { } name)
                    {
                        continue;
                    }
                    name = job.Length == 0 ? name : $"{name} ({job})";
                    if (!pooled.TryGetValue(name, out var byCommit))
                    {
                        pooled[name] = byCommit = [];
                    }
                    if (!byCommit.TryGetValue(index, out var samples))
                    {
                        byCommit[index] = samples = [];
                    }
                    samples.AddRange(benchmark.Samples);
                }
            }
        }

        var series = new List<TrendSeries>();
        foreach (var (name, byCommit) in pooled.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var points = byCommit
                .Select(p => Point(commits[p.Key].Records[0].Commit.ShortSha, commits[p.Key].When, p.Value))
                .ToList();
            series.Add(new TrendSeries(name, points, ChangePoints(points, minDistance)));
        }
        return series;
    }

    /// <summary>
    /// A label per job signature of <paramref name="records"/>: empty when they share one job (the series keep their plain
    /// names), else the job's name, numbered when two signatures share a name (a profile whose settings changed).
    /// </summary>
    private static Dictionary<string, string> JobLabels(IEnumerable<PerfRecord> records)
    {
        var signatures = records
            .Select(r => (Signature: RunComparer.JobSignature(r.Run.Job), Name: r.Run.Job?.Name ?? "unknown job"))
            .DistinctBy(j => j.Signature)
            .ToList();
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in signatures.GroupBy(j => j.Name, StringComparer.Ordinal))
        {
            int n = 0;
            foreach (var (signature, name) in group)
            {
                labels[signature] = signatures.Count == 1 ? "" : group.Count() == 1 ? name : $"{name} #{++n}";
            }
        }
        return labels;
    }

    private static string? SeriesName(BenchmarkResult benchmark)
    {
        if (!SuiteCategories.IsCrossThread(benchmark.Categories))
        {
            return benchmark.Id;
        }
        return benchmark.Calibration.State switch
        {
            CoreDistanceState.Near => benchmark.Id + " [near]",
            CoreDistanceState.Far => benchmark.Id + " [far]",
            _ => null,
        };
    }

    private static TrendPoint Point(string shortSha, DateTimeOffset when, List<double> samples)
    {
        samples.Sort();
        return new TrendPoint(shortSha, when, Quantile(samples, 0.5), Quantile(samples, 0.25), Quantile(samples, 0.75), samples.Count);
    }

    // Linear interpolation between order statistics (Hyndman-Fan type 7), on sorted values.
    private static double Quantile(List<double> sorted, double p)
    {
        double h = (sorted.Count - 1) * p;
        int lower = (int)Math.Floor(h);
        int upper = Math.Min(lower + 1, sorted.Count - 1);
        return sorted[lower] + ((h - lower) * (sorted[upper] - sorted[lower]));
    }

    private static int[] ChangePoints(List<TrendPoint> points, int minDistance)
    {
        if (points.Count < 2 * minDistance + 1)
        {
            return [];
        }
        var medians = points.Select(p => p.Median).ToArray();
        // EdPelt reports the last index of each segment before a step; the step's commit is the next one.
        return EdPeltChangePointDetector.Instance.GetChangePointIndexes(medians, minDistance)
            .Select(i => i + 1)
            .Where(i => i > 0 && i < points.Count)
            .ToArray();
    }
}
