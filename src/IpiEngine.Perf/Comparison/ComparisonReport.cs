using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Comparison;

/// <summary>The overall verdict of a comparison, with its exit code.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Verdict>))]
public enum Verdict
{
    /// <summary>No regression on a gated metric (exit 0; warnings may exist).</summary>
    Pass = 0,

    /// <summary>A regression on a gated metric (exit 1).</summary>
    Regression = 1,

    /// <summary>The sides cannot be compared: machine, job settings, or no common benchmark (exit 2).</summary>
    NotComparable = 2,

    /// <summary>No regression found, but a gated benchmark has not enough evidence either way: run more rounds (exit 3).</summary>
    NotEnoughEvidence = 3,
}

/// <summary>One side of a comparison, as the summary describes it.</summary>
public sealed record SideSummary
{
    /// <summary>What the user named.</summary>
    public required string Label { get; init; }

    /// <summary>Records pooled.</summary>
    public int Records { get; init; }

    /// <summary>Short shas of the pooled records' commits, in order, without repeats.</summary>
    public IReadOnlyList<string> Commits { get; init; } = [];

    /// <summary>Machine ids of the records.</summary>
    public IReadOnlyList<string> Machines { get; init; } = [];

    /// <summary>Job settings of the records, as one line each.</summary>
    public IReadOnlyList<string> Jobs { get; init; } = [];

    /// <summary>Records left out and why.</summary>
    public IReadOnlyList<string> LeftOut { get; init; } = [];

    /// <summary>Calibration states of the side's benchmarks.</summary>
    public CalibrationSummary? Calibration { get; init; }
}

/// <summary>Everything <c>ipi perf compare</c> prints, in any format.</summary>
public sealed record ComparisonReport
{
    /// <summary>The base side.</summary>
    public required SideSummary Base { get; init; }

    /// <summary>The diff side.</summary>
    public required SideSummary Diff { get; init; }

    /// <summary>The policy in one line.</summary>
    public required string Policy { get; init; }

    /// <summary>Per-benchmark results, for benchmarks on both sides.</summary>
    public IReadOnlyList<BenchmarkComparison> Benchmarks { get; init; } = [];

    /// <summary>Benchmarks only in the diff.</summary>
    public IReadOnlyList<string> New { get; init; } = [];

    /// <summary>Benchmarks only in the base.</summary>
    public IReadOnlyList<string> Missing { get; init; } = [];

    /// <summary>Why the sides are not comparable, when they are not.</summary>
    public string? NotComparableReason { get; init; }

    /// <summary>The verdict.</summary>
    public Verdict Verdict { get; init; }

    /// <summary>What the comparison cannot tell, in one line (stored records cannot separate drift from change), or null.</summary>
    public string? Caveat { get; init; }

    /// <summary>
    /// Set when the user stopped the rounds early (Ctrl-C): the comparison stands on the rounds that finished, and the
    /// process exits with the interruption's code, not the verdict's.
    /// </summary>
    public RoundsInterrupted? Interrupted { get; init; }

    /// <summary>
    /// The process exit code: 0 pass, 1 regression, 2 not comparable, 3 not enough evidence; the code of
    /// <see cref="Interrupted"/> (130) when the rounds were stopped early.
    /// </summary>
    public int ExitCode => Interrupted?.ExitCode ?? (int)Verdict;

    /// <summary>The one-line verdict.</summary>
    public required string VerdictLine { get; init; }

    /// <summary>The one-line summary of counts.</summary>
    public required string SummaryLine { get; init; }
}

/// <summary>How many rounds finished of those planned when the user stopped them, and the exit code that says so.</summary>
/// <param name="RoundsRun">Rounds that finished: the comparison stands on these.</param>
/// <param name="RoundsPlanned">Rounds planned when the stop came.</param>
/// <param name="ExitCode">The process exit code of a run stopped early.</param>
public sealed record RoundsInterrupted(int RoundsRun, int RoundsPlanned, int ExitCode);
