using System.Globalization;

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

    /// <summary>The rates in one line.</summary>
    public string SummaryLine => Slowdown > 0
        ? Invariant($"detection at {Slowdown * 100:0.#}% slower: every benchmark flagged SLOWER in {RunsAllDetected} of {Runs} run(s) ({Rate(RunsAllDetected)}); per benchmark {string.Join(", ", Benchmarks.Select(b => $"{Short(b.Id)} {b.Slower}/{b.Runs}"))}; runs with a benchmark called faster: {RunsWithFalseVerdict}")
        : Invariant($"A/A false verdicts: {RunsWithFalseVerdict} of {Runs} run(s) ({Rate(RunsWithFalseVerdict)}) called a benchmark slower or faster; verdicts {string.Join(", ", Verdicts.Select(p => $"{p.Key} {p.Value}"))}");

    /// <summary>Counts the outcomes of <paramref name="reports"/>.</summary>
    public static VerdictRates From(string commit, bool separateBuilds, double slowdown, IReadOnlyList<ComparisonReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var verdicts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var perBenchmark = new SortedDictionary<string, BenchmarkRate>(StringComparer.Ordinal);
        int falseRuns = 0, allDetected = 0;
        foreach (var report in reports)
        {
            var name = report.Verdict.ToString();
            verdicts[name] = verdicts.GetValueOrDefault(name) + 1;
            bool anySlower = report.Benchmarks.Any(b => b.Time == TimeOutcome.Slower);
            bool anyFaster = report.Benchmarks.Any(b => b.Time == TimeOutcome.Faster);
            falseRuns += (slowdown > 0 ? anyFaster : anySlower || anyFaster) ? 1 : 0;
            allDetected += report.Benchmarks.Count > 0 && report.Benchmarks.All(b => b.Time == TimeOutcome.Slower) ? 1 : 0;
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
            Verdicts = verdicts,
            RunsWithFalseVerdict = falseRuns,
            RunsAllDetected = slowdown > 0 ? allDetected : 0,
            Benchmarks = [.. perBenchmark.Values],
        };
    }

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
