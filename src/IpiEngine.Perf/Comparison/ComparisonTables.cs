using System.Globalization;

namespace IpiEngine.Perf.Comparison;

/// <summary>One table of a comparison printout: a title, column headers and rows of cells.</summary>
/// <param name="Title">Table title, also the first column's header.</param>
/// <param name="Headers">Column headers after the first.</param>
/// <param name="Rows">Rows: the benchmark, then one cell per header.</param>
public sealed record ComparisonTable(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>
/// The header lines and tables of a comparison, shared by the text (Spectre.Console) and Markdown
/// printers: Slower, Failed in diff, Faster, Allocation changed, Not compared.
/// </summary>
public static class ComparisonTables
{
    /// <summary>The lines printed above the tables: machine, both sides with their calibration, policy.</summary>
    public static IReadOnlyList<string> HeaderLines(ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var lines = new List<string>
        {
            $"machine  {string.Join(", ", report.Base.Machines.Union(report.Diff.Machines))}",
            Side("base", report.Base),
            Side("diff", report.Diff),
            $"job      {(report.Base.Jobs.Count > 0 ? report.Base.Jobs[0] : "none")}",
            $"policy   {report.Policy}",
        };
        if (report.Caveat is not null)
        {
            lines.Add($"caveat   {report.Caveat}");
        }
        return lines;

        static string Side(string name, SideSummary side) =>
            $"{name}     {side.Label}: {side.Records} record(s) of {string.Join(", ", side.Commits)}"
            + (side.LeftOut.Count > 0 ? $" ({string.Join("; ", side.LeftOut)})" : "")
            + $"; calibration {side.Calibration}";
    }

    /// <summary>The non-empty tables, in print order.</summary>
    public static IReadOnlyList<ComparisonTable> Build(ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var tables = new List<ComparisonTable>();
        var slower = report.Benchmarks.Where(b => b.Time == TimeOutcome.Slower).OrderByDescending(b => b.Ratio).ToList();
        if (slower.Count > 0)
        {
            tables.Add(new ComparisonTable("Slower", ["diff/base", "Base median", "Diff median", "State", "Samples", "Modality", "Gate"],
                slower.Select(b => Row(b.Id, Ratio(b.Ratio), Ns(b.BaseMedian), Ns(b.DiffMedian), b.State, Samples(b), b.Modality, b.TimeGated ? "fail" : "warn")).ToList()));
        }
        var broken = report.Benchmarks.Where(b => b.DiffFailed).ToList();
        if (broken.Count > 0)
        {
            // A regression of its own: listed beside the slower ones, not only under "Not compared".
            tables.Add(new ComparisonTable("Failed in diff", ["Base median", "Why", "Gate"],
                broken.Select(b => Row(b.Id, Ns(b.BaseMedian), b.Note ?? "no sample in diff", "fail")).ToList()));
        }
        var faster = report.Benchmarks.Where(b => b.Time == TimeOutcome.Faster).OrderBy(b => b.Ratio).ToList();
        if (faster.Count > 0)
        {
            tables.Add(new ComparisonTable("Faster", ["base/diff", "Base median", "Diff median", "State", "Samples", "Modality"],
                faster.Select(b => Row(b.Id, Ratio(1 / b.Ratio), Ns(b.BaseMedian), Ns(b.DiffMedian), b.State, Samples(b), b.Modality)).ToList()));
        }
        var allocation = report.Benchmarks.Where(b => b.AllocationChanged).ToList();
        if (allocation.Count > 0)
        {
            tables.Add(new ComparisonTable("Allocation changed", ["Base B/op", "Diff B/op", "Gate"],
                allocation.Select(b => Row(b.Id, Bytes(b.BaseAllocated), Bytes(b.DiffAllocated),
                    !b.AllocationIncreased ? "" : b.AllocationRegressed ? "fail" : "warn")).ToList()));
        }
        var notCompared = report.Benchmarks.Where(b => !b.DiffFailed && b.Time is TimeOutcome.NotComparable or TimeOutcome.Failed or TimeOutcome.Unknown or TimeOutcome.NotEnoughEvidence).ToList();
        if (notCompared.Count > 0)
        {
            tables.Add(new ComparisonTable("Not compared", ["Outcome", "Why"],
                notCompared.Select(b => Row(b.Id, b.Time.ToString(), b.Note ?? b.Reason ?? "too few samples for a verdict (record with --profile full)")).ToList()));
        }
        var launched = report.Benchmarks.Where(b => b.BaseLaunches.Count + b.DiffLaunches.Count > 0).ToList();
        if (launched.Count > 0)
        {
            tables.Add(new ComparisonTable("Launches", ["Verdict", "diff/base", "Base launch medians", "Base spread", "Diff launch medians", "Diff spread", "Reason"],
                launched.Select(b => Row(b.Id, b.Time.ToString(), Ratio(b.Ratio), Medians(b.BaseLaunches), Spread(b.BaseLaunches), Medians(b.DiffLaunches), Spread(b.DiffLaunches), b.Reason ?? b.Note ?? "")).ToList()));
        }
        if (report.New.Count + report.Missing.Count > 0)
        {
            tables.Add(new ComparisonTable("Only on one side", ["Side"],
                report.New.Select(id => Row(id, "diff (new)")).Concat(report.Missing.Select(id => Row(id, "base (missing)"))).ToList()));
        }
        return tables;
    }

    private static string[] Row(params string[] cells) => cells;

    private static string Samples(BenchmarkComparison b) => b.LeftOutSamples > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{b.BaseSamples}/{b.DiffSamples} ({b.LeftOutSamples} left out)")
        : string.Create(CultureInfo.InvariantCulture, $"{b.BaseSamples}/{b.DiffSamples}");

    private static string Medians(IReadOnlyList<double> launches) => string.Join(" ", launches.Select(Ns));

    /// <summary>The range of the launch medians over their median, e.g. <c>3.1%</c>.</summary>
    public static string Spread(IReadOnlyList<double> launches)
    {
        ArgumentNullException.ThrowIfNull(launches);
        if (launches.Count < 2)
        {
            return "-";
        }
        double median = SampleTest.Median(launches);
        return median > 0
            ? ((launches.Max() - launches.Min()) / median * 100).ToString("0.0'%'", CultureInfo.InvariantCulture)
            : "-";
    }

    private static string Ratio(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Nanoseconds with a sensible precision.</summary>
    public static string Ns(double ns) => ns switch
    {
        >= 1e6 => (ns / 1e6).ToString("0.00 'ms'", CultureInfo.InvariantCulture),
        >= 1e3 => (ns / 1e3).ToString("0.00 'us'", CultureInfo.InvariantCulture),
        _ => ns.ToString("0.00 'ns'", CultureInfo.InvariantCulture),
    };

    private static string Bytes(long? bytes) => bytes?.ToString(CultureInfo.InvariantCulture) ?? "n/a";
}
