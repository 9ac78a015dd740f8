using System.Globalization;
using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Comparison;

/// <summary>How often one benchmark got each time outcome over the runs of <c>ipi perf aa</c>.</summary>
public sealed record BenchmarkRate
{
    /// <summary>The benchmark's full name.</summary>
    public required string Id { get; init; }

    /// <summary>Runs in which it was compared.</summary>
    public int Runs { get; init; }

    /// <summary>Runs that called it slower.</summary>
    public int Slower { get; init; }

    /// <summary>Runs that called it faster.</summary>
    public int Faster { get; init; }

    /// <summary>Runs that called it the same.</summary>
    public int Same { get; init; }

    /// <summary>Runs without enough evidence for it (or no comparable launches).</summary>
    public int Undecided { get; init; }
}

/// <summary>
/// One run of an <c>ipi perf aa</c> series: its verdict, whether it counted against the series, and the core
/// states its measurements were taken in (both sides' benchmarks, per launch or per interleaved round).
/// </summary>
public sealed record SeriesRun
{
    /// <summary>The run's number, from 1.</summary>
    public int Run { get; init; }

    /// <summary>PASS, REGRESSION, NOT ENOUGH EVIDENCE or NOT COMPARABLE, as the enum names it.</summary>
    public required string Verdict { get; init; }

    /// <summary>A/A: a benchmark was called slower or faster. With a slowdown: a benchmark was called faster.</summary>
    public bool FalseVerdict { get; init; }

    /// <summary>With a slowdown: every compared benchmark was called slower.</summary>
    public bool AllDetected { get; init; }

    /// <summary>Measurements the core-distance probe found near on both sides.</summary>
    public int Near { get; init; }

    /// <summary>Measurements it found far.</summary>
    public int Far { get; init; }

    /// <summary>Measurements during which the state switched.</summary>
    public int Mixed { get; init; }

    /// <summary>Measurements without a usable reading.</summary>
    public int Unknown { get; init; }

    /// <summary><c>far</c> or <c>near</c> when every reading was that state, <c>both</c> when the run saw a flip, <c>unknown</c> without readings.</summary>
    public string States => (Near, Far, Mixed) switch
    {
        (0, 0, 0) => "unknown",
        ( > 0, 0, 0) => "near",
        (0, > 0, 0) => "far",
        _ => "both",
    };

    /// <summary>For example <c>far (near 0, far 412, mixed 0)</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{States} (near {Near}, far {Far}, mixed {Mixed})");

    /// <summary>The run's entry from its comparison.</summary>
    public static SeriesRun Of(int run, ComparisonReport report, bool falseVerdict, bool allDetected)
    {
        ArgumentNullException.ThrowIfNull(report);
        CalibrationSummary a = report.Base.Calibration ?? new CalibrationSummary();
        CalibrationSummary b = report.Diff.Calibration ?? new CalibrationSummary();
        return new SeriesRun
        {
            Run = run,
            Verdict = report.Verdict.ToString(),
            FalseVerdict = falseVerdict,
            AllDetected = allDetected,
            Near = a.Near + b.Near,
            Far = a.Far + b.Far,
            Mixed = a.Mixed + b.Mixed,
            Unknown = a.Unknown + b.Unknown,
        };
    }
}

/// <summary>
/// The suite's specification as measured: over N comparisons of a commit with itself, how often a
/// verdict was false (any benchmark called slower or faster); with a slowdown switched on for B,
/// how often the slowed benchmarks were caught (called slower), and how often anything was called
/// faster (false in that direction).
/// </summary>
public sealed record VerdictRates
{
    /// <summary>The commit compared with itself.</summary>
    public required string Commit { get; init; }

    /// <summary>True when A and B were separate builds of the commit.</summary>
    public bool SeparateBuilds { get; init; }

    /// <summary>B's slowdown (0.10 = 10%); 0 for a plain A/A series.</summary>
    public double Slowdown { get; init; }

    /// <summary>Comparisons run.</summary>
    public int Runs { get; init; }

    /// <summary>Comparisons asked for; more than <see cref="Runs"/> when the series was interrupted.</summary>
    public int RunsPlanned { get; init; }

    /// <summary>True when the series stopped before <see cref="RunsPlanned"/> (Ctrl-C): the rates cover the runs that finished.</summary>
    public bool Interrupted => RunsPlanned > Runs;

    /// <summary>Runs with verdict PASS, REGRESSION, NOT ENOUGH EVIDENCE and NOT COMPARABLE.</summary>
    public IReadOnlyDictionary<string, int> Verdicts { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// A/A: runs in which any benchmark was called slower or faster. With a slowdown: runs in which
    /// any benchmark was called faster.
    /// </summary>
    public int RunsWithFalseVerdict { get; init; }

    /// <summary>With a slowdown: runs in which every compared benchmark was called slower.</summary>
    public int RunsAllDetected { get; init; }

    /// <summary>Per benchmark, how often each outcome came.</summary>
    public IReadOnlyList<BenchmarkRate> Benchmarks { get; init; } = [];

    /// <summary>Per run: its verdict and the core states it was measured in, so a rate can be read per state.</summary>
    public IReadOnlyList<SeriesRun> RunDetails { get; init; } = [];

    /// <summary>
    /// The runs grouped by the states they saw, each with its count of false verdicts (A/A) or of runs that flagged
    /// every benchmark (with a slowdown): <c>states: far 9 run(s), 0 false; both 1, 0 false</c>.
    /// </summary>
    public string StatesLine => "states: " + string.Join("; ", RunDetails.GroupBy(r => r.States).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        Slowdown > 0
            ? Invariant($"{g.Key} {g.Count()} run(s), {g.Count(r => r.AllDetected)} with every benchmark flagged, {g.Count(r => r.FalseVerdict)} with one called faster")
            : Invariant($"{g.Key} {g.Count()} run(s), {g.Count(r => r.FalseVerdict)} with a false verdict")));

    /// <summary>
    /// With a slowdown: the benchmark flagged SLOWER in the fewest runs, the one the specification's per-benchmark
    /// detection rate ("at least 9 of 10") is read from; null in an A/A series or without benchmarks.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BenchmarkRate? LeastDetected => Slowdown > 0
        ? Benchmarks.Where(b => b.Runs > 0).OrderBy(b => (double)b.Slower / b.Runs).ThenBy(b => b.Id, StringComparer.Ordinal).FirstOrDefault()
        : null;

    /// <summary>The rates in one line; with a slowdown it leads with the least-caught benchmark, then counts runs that caught all of them.</summary>
    public string SummaryLine => (Slowdown > 0
        ? Invariant($"detection at {Slowdown * 100:0.#}% slower: {LeastDetectedText}; every benchmark flagged SLOWER in the same run in {RunsAllDetected} of {Runs} run(s) ({Rate(RunsAllDetected)}); per benchmark {string.Join(", ", Benchmarks.Select(b => $"{Short(b.Id)} {b.Slower}/{b.Runs}"))}; runs with a benchmark called faster: {RunsWithFalseVerdict}")
        : Invariant($"A/A false verdicts: {RunsWithFalseVerdict} of {Runs} run(s) ({Rate(RunsWithFalseVerdict)}) called a benchmark slower or faster; verdicts {string.Join(", ", Verdicts.Select(p => $"{p.Key} {p.Value}"))}"))
        + (Interrupted ? Invariant($"; interrupted: {Runs} of the {RunsPlanned} planned run(s) finished") : string.Empty);

    /// <summary>The entry of the <paramref name="run"/>th report of a series with <paramref name="slowdown"/>.</summary>
    public static SeriesRun RunOf(int run, double slowdown, ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        bool anySlower = report.Benchmarks.Any(b => b.Time == TimeOutcome.Slower);
        bool anyFaster = report.Benchmarks.Any(b => b.Time == TimeOutcome.Faster);
        bool falseVerdict = slowdown > 0 ? anyFaster : anySlower || anyFaster;
        bool allDetected = slowdown > 0 && report.Benchmarks.Count > 0 && report.Benchmarks.All(b => b.Time == TimeOutcome.Slower);
        return SeriesRun.Of(run, report, falseVerdict, allDetected);
    }

    /// <summary>Counts the outcomes of <paramref name="reports"/>, of <paramref name="planned"/> runs asked for (null: as many as there are reports).</summary>
    public static VerdictRates From(string commit, bool separateBuilds, double slowdown, IReadOnlyList<ComparisonReport> reports, int? planned = null)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var verdicts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var perBenchmark = new SortedDictionary<string, BenchmarkRate>(StringComparer.Ordinal);
        var runs = new List<SeriesRun>(reports.Count);
        foreach (var report in reports)
        {
            var name = report.Verdict.ToString();
            verdicts[name] = verdicts.GetValueOrDefault(name) + 1;
            runs.Add(RunOf(runs.Count + 1, slowdown, report));
            foreach (var benchmark in report.Benchmarks)
            {
                var rate = perBenchmark.GetValueOrDefault(benchmark.Id) ?? new BenchmarkRate { Id = benchmark.Id };
                perBenchmark[benchmark.Id] = rate with
                {
                    Runs = rate.Runs + 1,
                    Slower = rate.Slower + (benchmark.Time == TimeOutcome.Slower ? 1 : 0),
                    Faster = rate.Faster + (benchmark.Time == TimeOutcome.Faster ? 1 : 0),
                    Same = rate.Same + (benchmark.Time == TimeOutcome.Same ? 1 : 0),
                    Undecided = rate.Undecided + (benchmark.Time is TimeOutcome.Slower or TimeOutcome.Faster or TimeOutcome.Same ? 0 : 1),
                };
            }
        }
        return new VerdictRates
        {
            Commit = commit,
            SeparateBuilds = separateBuilds,
            Slowdown = slowdown,
            Runs = reports.Count,
            RunsPlanned = Math.Max(planned ?? reports.Count, reports.Count),
            Verdicts = verdicts,
            RunsWithFalseVerdict = runs.Count(r => r.FalseVerdict),
            RunsAllDetected = runs.Count(r => r.AllDetected),
            Benchmarks = [.. perBenchmark.Values],
            RunDetails = runs,
        };
    }

    private string LeastDetectedText => LeastDetected is { } least
        ? Invariant($"the least-caught benchmark, {Short(least.Id)}, flagged SLOWER in {least.Slower} of {least.Runs} run(s)")
        : "no benchmark compared";

    private string Rate(int count) => Runs == 0 ? "n/a" : Invariant($"{100.0 * count / Runs:0.#}%");

    private static string Short(string id)
    {
        // "Namespace.Type.Method(Case: X)" -> "Type.Method(Case: X)": enough to tell benchmarks apart.
        int parameters = id.IndexOf('(', StringComparison.Ordinal);
        var name = parameters < 0 ? id : id[..parameters];
        int method = name.LastIndexOf('.');
        int type = method <= 0 ? -1 : name.LastIndexOf('.', method - 1);
        return type < 0 ? id : id[(type + 1)..];
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
