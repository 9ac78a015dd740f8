namespace IpiEngine.Perf.Comparison;

/// <summary>The comparison of one benchmark present on both sides.</summary>
public sealed record BenchmarkComparison
{
    /// <summary>The benchmark's full name.</summary>
    public required string Id { get; init; }

    /// <summary>True for a <c>CrossThread</c> benchmark: compared within one calibration state, warn-only unless gated.</summary>
    public bool CrossThread { get; init; }

    /// <summary>What the time test found.</summary>
    public TimeOutcome Time { get; init; }

    /// <summary>The calibration state the time test used: <c>near</c>, <c>far</c>, or <c>any</c> for single-threaded benchmarks.</summary>
    public string State { get; init; } = "any";

    /// <summary>True when a slowdown of this benchmark fails the comparison (otherwise it warns).</summary>
    public bool TimeGated { get; init; }

    /// <summary>Pooled base median, ns per operation (within <see cref="State"/>).</summary>
    public double BaseMedian { get; init; }

    /// <summary>Pooled diff median, ns per operation (within <see cref="State"/>).</summary>
    public double DiffMedian { get; init; }

    /// <summary>Diff over base: the launch test's estimated shift when launches were compared, else diff median over base median.</summary>
    public double Ratio => EstimatedRatio is { } estimated ? estimated : BaseMedian > 0 ? DiffMedian / BaseMedian : double.NaN;

    /// <summary>The launch test's estimated diff/base ratio (null when iterations were compared).</summary>
    public double? EstimatedRatio { get; init; }

    /// <summary>Each base launch's median, ns, in run order (empty when iterations were compared).</summary>
    public IReadOnlyList<double> BaseLaunches { get; init; } = [];

    /// <summary>Each diff launch's median, ns, in run order.</summary>
    public IReadOnlyList<double> DiffLaunches { get; init; } = [];

    /// <summary>Why the verdict is what it is, in one line (launch comparisons).</summary>
    public string? Reason { get; init; }

    /// <summary>More rounds that would likely decide a benchmark with not enough evidence (null: none needed, or out of reach).</summary>
    public int? MoreRounds { get; init; }

    /// <summary>Samples (iterations, or launches with <see cref="ComparisonUnit.Launch"/>) used on the base side.</summary>
    public int BaseSamples { get; init; }

    /// <summary>Samples used on the diff side.</summary>
    public int DiffSamples { get; init; }

    /// <summary>Samples left out because they were taken in another, a mixed or an unknown state.</summary>
    public int LeftOutSamples { get; init; }

    /// <summary>Modality hint of the base and diff samples ("", "bimodal", ...).</summary>
    public string Modality { get; init; } = "";

    /// <summary>Median allocated bytes per operation over the base records (null: not measured).</summary>
    public long? BaseAllocated { get; init; }

    /// <summary>Median allocated bytes per operation over the diff records.</summary>
    public long? DiffAllocated { get; init; }

    /// <summary>The most any base record (launch) allocated per operation (null: not measured).</summary>
    public long? BaseAllocatedMax { get; init; }

    /// <summary>The least any diff record (launch) allocated per operation (null: not measured).</summary>
    public long? DiffAllocatedMin { get; init; }

    /// <summary>True when an allocation increase of this benchmark fails the comparison (hot path, not Baselines).</summary>
    public bool AllocationGated { get; init; }

    /// <summary>Why the time was not compared, when it was not.</summary>
    public string? Note { get; init; }

    /// <summary>True when the diff allocates more per operation than the base.</summary>
    public bool AllocationIncreased => BaseAllocated is { } b && DiffAllocated is { } d && d > b;

    /// <summary>True when allocation changed either way.</summary>
    public bool AllocationChanged => BaseAllocated is { } b && DiffAllocated is { } d && d != b;

    /// <summary>
    /// True when the allocation increase fails the comparison: on a gated benchmark, any increase of
    /// a single-threaded benchmark; on a cross-thread benchmark, only when every diff launch
    /// allocated more than every base launch (a new allocation per operation shows in every launch;
    /// a rig's occasional allocations, timers or thread-pool work, come and go from launch to launch:
    /// 0 to 8 B per operation on either side of one A/A-like run), and, when the base already
    /// allocated, by more than 10%.
    /// </summary>
    public bool AllocationRegressed => AllocationIncreased && AllocationGated
        && (!CrossThread || (DiffAllocatedMin > BaseAllocatedMax && (BaseAllocated == 0 || DiffAllocated > BaseAllocated * 1.1)));

    /// <summary>True when this benchmark lacks the evidence for a verdict and its time is gated.</summary>
    public bool IsInconclusive => Time == TimeOutcome.NotEnoughEvidence && TimeGated;

    /// <summary>
    /// True when the benchmark ran on the base side but failed on the diff side (no samples): the diff broke it. A
    /// regression whatever the gate, since a failure is not noise.
    /// </summary>
    public bool DiffFailed { get; init; }

    /// <summary>True when this benchmark alone makes the comparison fail.</summary>
    public bool IsRegression => (Time == TimeOutcome.Slower && TimeGated) || AllocationRegressed || DiffFailed;

    /// <summary>True when this benchmark got slower but is only warned about.</summary>
    public bool IsWarning => Time == TimeOutcome.Slower && !TimeGated;
}
