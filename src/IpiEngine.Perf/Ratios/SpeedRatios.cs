using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using Perfolizer.Mathematics.QuantileEstimators;
using Pragmastat;

namespace IpiEngine.Perf.Ratios;

/// <summary>
/// How many times as fast one benchmark ran as another in the same records, per core-distance state: the questions a
/// goal such as "one <c>Post</c> per record at least 3x a ConcurrentQueue, in either state" asks of the stored suite
/// records. Only the two benchmarks of one record are compared with each other (same build, same session, minutes
/// apart), and a record counts in a state only when both of its readings were labelled that state; a record where
/// they differ, or either was mixed, counts as mixed. Records made with different job settings (a <c>ci</c> and a
/// <c>full</c> profile record, an interleaved round) measure differently, so each job gets its own summaries, never a
/// pooled one.
/// </summary>
public static class SpeedRatios
{
    /// <summary>
    /// Every reading of <paramref name="benchmark"/> against <paramref name="reference"/> in <paramref name="records"/>
    /// on <paramref name="machineId"/>: records where both ran and have a median. Names are resolved with
    /// <see cref="ResolveId"/> over those records.
    /// </summary>
    /// <exception cref="PerfInputException">A name matches no benchmark or several, or no record holds both.</exception>
    public static RatioReport Read(IReadOnlyList<PerfRecord> records, string machineId, string benchmark, string reference, double? goal)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (goal is { } g && !(g > 0 && double.IsFinite(g)))
        {
            throw new PerfInputException($"--goal must be a positive ratio such as 3 or 0.75, not {g}.");
        }

        var onMachine = records.Where(r => r.Machine.Id == machineId).ToList();
        if (onMachine.Count == 0)
        {
            throw new PerfInputException($"No record of machine '{machineId}' is among the records selected.");
        }

        var ids = onMachine.SelectMany(r => r.Benchmarks).Select(b => b.Id).Distinct(StringComparer.Ordinal).ToList();
        var benchmarkId = ResolveId(ids, benchmark);
        var referenceId = ResolveId(ids, reference);
        if (benchmarkId == referenceId)
        {
            throw new PerfInputException($"'{benchmark}' and '{reference}' are the same benchmark ({benchmarkId}): name two.");
        }

        var readings = new List<(string Job, RatioReading Reading)>();
        foreach (var record in onMachine.OrderBy(r => r.Run.StartedUtc))
        {
            var b = Usable(record, benchmarkId);
            var r = Usable(record, referenceId);
            if (b is not null && r is not null)
            {
                readings.Add((RunComparer.JobSignature(record.Run.Job), new RatioReading(record.Commit.ShortSha, record.Run.StartedUtc, StateOf(b, r), b.Median!.Value, r.Median!.Value)));
            }
        }

        if (readings.Count == 0)
        {
            throw new PerfInputException($"No record on machine '{machineId}' holds a result of both {benchmarkId} and {referenceId}.");
        }

        var jobs = readings
            .GroupBy(x => x.Job, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Job(g.Key, [.. g.Select(x => x.Reading)], goal))
            .ToList();
        return new RatioReport
        {
            Machine = machineId,
            Benchmark = benchmarkId,
            Reference = referenceId,
            Goal = goal,
            Jobs = jobs,
        };
    }

    private static RatioJob Job(string job, List<RatioReading> readings, double? goal) => new()
    {
        Job = job,
        Commits = readings.Select(x => x.ShortSha).Distinct(StringComparer.Ordinal).Count(),
        States = new[] { CoreDistanceState.Near, CoreDistanceState.Far, CoreDistanceState.Mixed, CoreDistanceState.Unknown }
            .Select(s => Summarize(s, readings.Where(x => x.State == s).Select(x => x.Ratio).ToList(), goal))
            .OfType<RatioSummary>()
            .ToList(),
        Readings = readings,
    };

    /// <summary>
    /// The one id among <paramref name="ids"/> that <paramref name="name"/> names: the whole id, or its end after a dot
    /// (the method, with its parameters if it has any), case-insensitively.
    /// </summary>
    /// <exception cref="PerfInputException">None matches, or several do.</exception>
    public static string ResolveId(IReadOnlyList<string> ids, string name)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new PerfInputException("A benchmark name is empty: give the id or its end, such as EngineFusedSinglePost.");
        }
        var exact = ids.Where(id => string.Equals(id, name, StringComparison.OrdinalIgnoreCase)).ToList();
        var matches = exact.Count > 0 ? exact : ids.Where(id => id.EndsWith("." + name, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new PerfInputException($"No benchmark of the records selected is named '{name}'" + Suggestion(ids, name) + "."),
            _ => throw new PerfInputException($"'{name}' names {matches.Count} benchmarks ({string.Join(", ", matches.Order(StringComparer.Ordinal).Take(4))}{(matches.Count > 4 ? ", ..." : "")}): give more of the id."),
        };
    }

    private static string Suggestion(IReadOnlyList<string> ids, string name)
    {
        var near = ids.Where(id => ShortName(id).Contains(name, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).Take(3).ToList();
        return near.Count > 0 ? $" (did you mean {string.Join(" or ", near)}?)" : $"; the records hold {ids.Count} benchmarks, such as {string.Join(", ", ids.Order(StringComparer.Ordinal).Take(3))}";
    }

    /// <summary>A benchmark id's method part, with its parameters: what follows the last dot before any parenthesis.</summary>
    public static string ShortName(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int open = id.IndexOf('(', StringComparison.Ordinal);
        int dot = id.LastIndexOf('.', open >= 0 ? open : id.Length - 1);
        return id[(dot + 1)..];
    }

    private static BenchmarkResult? Usable(PerfRecord record, string id) =>
        record.Benchmarks.FirstOrDefault(b => b.Id == id && !b.Failed && b.Median is > 0);

    private static CoreDistanceState StateOf(BenchmarkResult benchmark, BenchmarkResult reference)
    {
        var a = benchmark.Calibration.State;
        var b = reference.Calibration.State;
        if (a == b)
        {
            return a;
        }

        return a == CoreDistanceState.Unknown || b == CoreDistanceState.Unknown ? CoreDistanceState.Unknown : CoreDistanceState.Mixed;
    }

    private static RatioSummary? Summarize(CoreDistanceState state, List<double> ratios, double? goal)
    {
        if (ratios.Count == 0)
        {
            return null;
        }

        var sample = new Sample(ratios);
        var quartiles = new HyndmanFanQuantileEstimator(HyndmanFanType.Type7);
        return new RatioSummary
        {
            State = state,
            Records = ratios.Count,
            Median = quartiles.Median(sample),
            Q1 = quartiles.Quantile(sample, 0.25),
            Q3 = quartiles.Quantile(sample, 0.75),
            Min = ratios.Min(),
            Max = ratios.Max(),
            ReachedGoal = goal is { } g ? ratios.Count(r => r >= g) : null,
        };
    }
}

/// <summary>One record's reading: the two medians (ns per op) and the state both were measured in.</summary>
/// <param name="ShortSha">The record's commit.</param>
/// <param name="StartedUtc">When the record's run started.</param>
/// <param name="State">Near or far when both readings were labelled so; mixed when they disagree; unknown without readings.</param>
/// <param name="BenchmarkNs">The benchmark's median.</param>
/// <param name="ReferenceNs">The reference's median.</param>
public sealed record RatioReading(string ShortSha, DateTimeOffset StartedUtc, CoreDistanceState State, double BenchmarkNs, double ReferenceNs)
{
    /// <summary>How many times as fast the benchmark ran as the reference (the reference's time over the benchmark's).</summary>
    public double Ratio => ReferenceNs / BenchmarkNs;
}

/// <summary>The ratios of one state.</summary>
public sealed record RatioSummary
{
    /// <summary>The core-distance state.</summary>
    public required CoreDistanceState State { get; init; }

    /// <summary>How many records.</summary>
    public required int Records { get; init; }

    /// <summary>The median ratio.</summary>
    public required double Median { get; init; }

    /// <summary>The first quartile.</summary>
    public required double Q1 { get; init; }

    /// <summary>The third quartile.</summary>
    public required double Q3 { get; init; }

    /// <summary>The smallest ratio.</summary>
    public required double Min { get; init; }

    /// <summary>The largest ratio.</summary>
    public required double Max { get; init; }

    /// <summary>With a goal: how many records reached it (ratio at least the goal).</summary>
    public int? ReachedGoal { get; init; }
}

/// <summary>What <c>ipi perf ratio</c> reports (its JSON).</summary>
public sealed record RatioReport
{
    /// <summary>The machine id.</summary>
    public required string Machine { get; init; }

    /// <summary>The benchmark's full id.</summary>
    public required string Benchmark { get; init; }

    /// <summary>The reference's full id.</summary>
    public required string Reference { get; init; }

    /// <summary>The goal, when one was given.</summary>
    public double? Goal { get; init; }

    /// <summary>The readings of each job settings apart, the job with the most records first.</summary>
    public required IReadOnlyList<RatioJob> Jobs { get; init; }
}

/// <summary>The readings of the records made with one job settings, and their summaries.</summary>
public sealed record RatioJob
{
    /// <summary>The job: its profile name and settings (<see cref="RunComparer.JobSignature"/>).</summary>
    public required string Job { get; init; }

    /// <summary>How many commits the readings come from.</summary>
    public required int Commits { get; init; }

    /// <summary>One summary per state that has readings: near, far, mixed, unknown.</summary>
    public required IReadOnlyList<RatioSummary> States { get; init; }

    /// <summary>Every reading, oldest first.</summary>
    public required IReadOnlyList<RatioReading> Readings { get; init; }
}
