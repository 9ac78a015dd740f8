using System.Globalization;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// Compares two sets of records: pools each side's samples per benchmark (on one machine id, with
/// one set of job settings), tests time, and checks allocated bytes per operation. Time is tested
/// per <see cref="ComparisonOptions.Unit"/>: across launches with <see cref="LaunchTest"/> (every
/// benchmark within its core state; what <c>compare-commits</c> does), or across pooled iterations
/// with <see cref="SampleTest"/> (cross-thread benchmarks only within one state).
/// </summary>
public sealed class RunComparer
{
    private readonly ComparisonOptions options;
    private readonly SampleTest? _test;
    private readonly LaunchTest? _launchTest;
    private readonly PairedTest? _pairedTest;
    private readonly PracticalThreshold _singleThreaded;
    private readonly PracticalThreshold _crossThread;

    /// <summary>Checks the options.</summary>
    /// <exception cref="PerfInputException">A threshold or the significance level is malformed.</exception>
    public RunComparer(ComparisonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        if (options.Unit == ComparisonUnit.Launch)
        {
            _launchTest = new LaunchTest(options.Alpha, equivalenceAlpha: options.EquivalenceAlpha);
            _pairedTest = new PairedTest(options.Alpha, equivalenceAlpha: options.EquivalenceAlpha);
            _singleThreaded = PracticalThreshold.Parse(options.Threshold, options.NoiseFloor, "--threshold", "--noise");
            _crossThread = PracticalThreshold.Parse(options.CrossThreadThreshold, options.CrossThreadNoiseFloor, "--cross-threshold", "--cross-noise");
        }
        else
        {
            _test = new SampleTest(options);
        }
    }

    /// <summary>
    /// The level at which a look before a run's last round may call a benchmark slower or faster (the Haybittle–Peto
    /// rule of interim analyses: interim looks at 0.001 leave the final look's alpha almost untouched).
    /// </summary>
    public const double InterimAlpha = 0.001;

    /// <summary>
    /// The share of the final look's equivalence level at which a look before a run's last round may call a benchmark the
    /// same: a tenth, as <see cref="InterimAlpha"/> is of the final look's 0.01 (0.005 against 0.05). At the final
    /// look's level after every round, a shift just beyond the threshold passed one of a run's looks far more often
    /// than 5% (about 16% over 20 rounds at the threshold, in a simulation of Gaussian rounds); at a tenth the looks
    /// before the last add a few tenths of a percent to the final look's 5%. A sign-flip test reaches 0.005 from 8
    /// rounds on, when every round is inside the threshold.
    /// </summary>
    internal const double InterimEquivalenceShare = 0.1;

    /// <summary>This comparison with slower and faster tested at <see cref="InterimAlpha"/> (or its own alpha, if stricter).</summary>
    public RunComparer ForInterimLooks() => new(options with { Alpha = Math.Min(options.Alpha, InterimAlpha) });

    /// <summary>
    /// This comparison with "same" tested at <see cref="InterimEquivalenceShare"/> of its equivalence level. Apart from
    /// <see cref="ForInterimLooks"/>: at <see cref="InterimAlpha"/> the tests give no verdict at all before 10 rounds,
    /// and this one keeps its own alpha's fewest rounds.
    /// </summary>
    internal RunComparer ForInterimSameLooks() => new(options with { EquivalenceAlpha = options.EquivalenceAlpha * InterimEquivalenceShare });

    /// <summary>The test of interleaved rounds (null when iterations are compared).</summary>
    internal PairedTest? Paired => _pairedTest;

    /// <summary>Fewest launches per side with which the launch test can give a verdict at all (1 when iterations are compared).</summary>
    public int MinimumLaunches => _launchTest?.MinimumLaunches ?? 1;

    /// <summary>Fewest interleaved rounds with which the paired test can give a verdict at all (1 when iterations are compared).</summary>
    public int MinimumPairedRounds => _pairedTest?.MinimumRounds ?? 1;

    /// <summary>Compares <paramref name="baseSet"/> with <paramref name="diffSet"/>.</summary>
    public ComparisonReport Compare(RecordSet baseSet, RecordSet diffSet)
    {
        ArgumentNullException.ThrowIfNull(baseSet);
        ArgumentNullException.ThrowIfNull(diffSet);
        var policy = options.Unit == ComparisonUnit.Launch
            ? string.Create(CultureInfo.InvariantCulture,
                $"time: one observation per launch (its median; interleaved rounds: the median log ratio of their paired blocks, sign-flip test), stratified permutation test of the shift against a threshold of {_singleThreaded} single-threaded, {_crossThread} cross-thread, alpha {options.Alpha} (same: {options.EquivalenceAlpha}); every benchmark within its core state, launches and pairs whose state changed left out; cross-thread {(options.GateCrossThread ? "gated" : "warn-only")}; alloc: any increase fails except Baselines (cross-thread rigs that already allocate: over 10%)")
            : string.Create(CultureInfo.InvariantCulture,
                $"time: Mann-Whitney equivalence at {options.Threshold} and {options.NoiseFloor}, alpha {options.Alpha}; cross-thread: same calibration state only, {(options.GateCrossThread ? "gated" : "warn-only")}; alloc: any increase fails except Baselines (cross-thread rigs that already allocate: over 10%)");

        var (machine, problem) = CommonMachine(baseSet, diffSet);
        var baseRecords = baseSet.Records.Where(r => r.Machine.Id == machine).ToList();
        var diffRecords = diffSet.Records.Where(r => r.Machine.Id == machine).ToList();
        var jobNotes = SharedJob(baseRecords, diffRecords);
        var baseSummary = Summarize(baseSet, baseRecords, jobNotes.Base);
        var diffSummary = Summarize(diffSet, diffRecords, jobNotes.Diff);
        problem ??= JobMismatch(baseSummary, diffSummary);
        if (problem is not null)
        {
            return NotComparable(baseSummary, diffSummary, policy, problem);
        }

        var basePool = Pool(baseRecords);
        var diffPool = Pool(diffRecords);
        var compared = new List<BenchmarkComparison>();
        foreach (var (id, basePooled) in basePool)
        {
            if (diffPool.TryGetValue(id, out var diffPooled))
            {
                compared.Add(CompareOne(id, basePooled, diffPooled));
            }
        }
        var missing = basePool.Keys.Where(id => !diffPool.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
        var added = diffPool.Keys.Where(id => !basePool.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
        if (compared.Count == 0)
        {
            return NotComparable(baseSummary, diffSummary, policy, "the two sides have no benchmark in common");
        }
        // Nothing decided anywhere (no shared state, too few samples, failed on both sides or in base only) is no PASS:
        // a failure in the diff alone is a verdict of its own (a regression), so it is not folded in here.
        if (compared.TrueForAll(c => c.Time is TimeOutcome.NotComparable or TimeOutcome.Failed or TimeOutcome.Unknown)
            && !compared.Exists(c => c.AllocationChanged || c.DiffFailed))
        {
            return NotComparable(baseSummary, diffSummary, policy, "no common benchmark could be compared (no shared calibration state, too few samples, or failed runs)") with
            {
                Benchmarks = compared,
                New = added,
                Missing = missing,
            };
        }

        compared.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        int regressions = compared.Count(c => c.IsRegression);
        var verdict = regressions > 0 ? Verdict.Regression
            : compared.Exists(c => c.IsInconclusive) ? Verdict.NotEnoughEvidence
            : Verdict.Pass;
        return new ComparisonReport
        {
            Base = baseSummary,
            Diff = diffSummary,
            Policy = policy,
            Benchmarks = compared,
            New = added,
            Missing = missing,
            Verdict = verdict,
            SummaryLine = SummaryLine(compared, added.Count, missing.Count),
            VerdictLine = VerdictLine(compared, verdict),
        };
    }

    private BenchmarkComparison CompareOne(string id, PooledBenchmark basePooled, PooledBenchmark diffPooled)
    {
        bool crossThread = basePooled.CrossThread || diffPooled.CrossThread;
        bool hotPath = !basePooled.Baseline && !diffPooled.Baseline;
        var comparison = new BenchmarkComparison
        {
            Id = id,
            CrossThread = crossThread,
            TimeGated = !crossThread || options.GateCrossThread,
            BaseAllocated = MedianOf(basePooled.Allocated),
            DiffAllocated = MedianOf(diffPooled.Allocated),
            BaseAllocatedMax = basePooled.Allocated.Count == 0 ? null : basePooled.Allocated.Max(),
            DiffAllocatedMin = diffPooled.Allocated.Count == 0 ? null : diffPooled.Allocated.Min(),
            AllocationGated = hotPath,
        };
        if (basePooled.AllSamples.Count == 0 || diffPooled.AllSamples.Count == 0)
        {
            bool diffOnly = basePooled.AllSamples.Count > 0;
            return comparison with
            {
                Time = TimeOutcome.Failed,
                BaseMedian = diffOnly ? SampleTest.Median(basePooled.AllSamples) : 0,
                DiffFailed = diffOnly,
                Note = diffOnly ? "failed in diff (ran in base): a regression" : diffPooled.AllSamples.Count == 0 ? "failed on both sides" : "failed in base",
            };
        }
        if (_launchTest is not null)
        {
            return WithLaunchTime(comparison, basePooled.Launches, diffPooled.Launches, crossThread ? _crossThread : _singleThreaded);
        }
        if (!crossThread)
        {
            return WithTime(comparison, "any", basePooled.AllSamples, diffPooled.AllSamples, leftOut: 0);
        }

        // Cross-thread: compare within each calibration state both sides have; a slowdown in any state counts.
        BenchmarkComparison? chosen = null;
        int usable = 0;
        foreach (var state in (ReadOnlySpan<CoreDistanceState>)[CoreDistanceState.Near, CoreDistanceState.Far])
        {
            var baseSamples = basePooled.SamplesIn(state);
            var diffSamples = diffPooled.SamplesIn(state);
            if (baseSamples.Count == 0 || diffSamples.Count == 0)
            {
                continue;
            }
            usable += baseSamples.Count + diffSamples.Count;
            var candidate = WithTime(comparison, StateName(state), baseSamples, diffSamples, leftOut: 0);
            if (chosen is null || Rank(candidate.Time) > Rank(chosen.Time))
            {
                chosen = candidate;
            }
        }
        int leftOut = basePooled.AllSamples.Count + diffPooled.AllSamples.Count - usable;
        if (chosen is null)
        {
            return comparison with
            {
                Time = TimeOutcome.NotComparable,
                State = "none",
                LeftOutSamples = leftOut,
                BaseMedian = SampleTest.Median(basePooled.AllSamples),
                DiffMedian = SampleTest.Median(diffPooled.AllSamples),
                Note = $"no common calibration state (base {basePooled.States()}, diff {diffPooled.States()})",
            };
        }
        return chosen with { LeftOutSamples = leftOut };

        // Slower outranks faster outranks same outranks unknown: the worst finding is the one reported.
        static int Rank(TimeOutcome outcome) => outcome switch
        {
            TimeOutcome.Slower => 3,
            TimeOutcome.Faster => 2,
            TimeOutcome.Same => 1,
            _ => 0,
        };
    }

    private BenchmarkComparison WithLaunchTime(BenchmarkComparison comparison, List<LaunchObservation> baseLaunches, List<LaunchObservation> diffLaunches, PracticalThreshold threshold)
    {
        // Interleaved rounds carry their paired blocks: the pairs, not the launches' levels, are compared.
        bool paired = baseLaunches.Count > 0 && diffLaunches.Count > 0
            && baseLaunches.TrueForAll(l => l.Blocks is not null) && diffLaunches.TrueForAll(l => l.Blocks is not null);
        var finding = paired
            ? _pairedTest!.Compare(baseLaunches, diffLaunches, threshold)
            : _launchTest!.Compare(baseLaunches, diffLaunches, threshold);
        // The medians printed beside the ratio come from the launches the launch test compared: those in a state both
        // sides saw (over every launch, a far base against a near diff printed 400 ns and 100 ns beside "1.20 slower").
        var (baseShown, diffShown) = paired ? (baseLaunches, diffLaunches) : InSharedStates(baseLaunches, diffLaunches);
        return comparison with
        {
            Time = finding.Outcome,
            State = finding.States.Length == 0 ? "none" : finding.States,
            BaseMedian = SampleTest.Median(baseShown.ConvertAll(l => l.MedianNs)),
            DiffMedian = SampleTest.Median(diffShown.ConvertAll(l => l.MedianNs)),
            EstimatedRatio = double.IsNaN(finding.EstimatedRatio) ? null : finding.EstimatedRatio,
            BaseSamples = finding.BaseUsed,
            DiffSamples = finding.DiffUsed,
            LeftOutSamples = finding.LeftOut,
            BaseLaunches = baseLaunches.ConvertAll(l => l.MedianNs),
            DiffLaunches = diffLaunches.ConvertAll(l => l.MedianNs),
            Reason = finding.Reason,
            MoreRounds = finding.MoreRounds,
        };
    }

    /// <summary>The launches of each side in a state (not mixed) the other side also has; both sides whole when they share none.</summary>
    private static (List<LaunchObservation> Base, List<LaunchObservation> Diff) InSharedStates(List<LaunchObservation> baseLaunches, List<LaunchObservation> diffLaunches)
    {
        var shared = baseLaunches.Select(l => l.State).Intersect(diffLaunches.Select(l => l.State)).Where(s => s != CoreDistanceState.Mixed).ToHashSet();
        return shared.Count == 0
            ? (baseLaunches, diffLaunches)
            : (baseLaunches.FindAll(l => shared.Contains(l.State)), diffLaunches.FindAll(l => shared.Contains(l.State)));
    }

    private BenchmarkComparison WithTime(BenchmarkComparison comparison, string state, List<double> baseSamples, List<double> diffSamples, int leftOut)
    {
        var baseModality = SampleTest.Modality(baseSamples);
        var diffModality = SampleTest.Modality(diffSamples);
        return comparison with
        {
            Time = _test!.Compare(baseSamples, diffSamples),
            State = state,
            BaseMedian = SampleTest.Median(baseSamples),
            DiffMedian = SampleTest.Median(diffSamples),
            BaseSamples = baseSamples.Count,
            DiffSamples = diffSamples.Count,
            LeftOutSamples = leftOut,
            Modality = baseModality == diffModality ? baseModality : $"{Dash(baseModality)} / {Dash(diffModality)}",
        };

        static string Dash(string text) => text.Length == 0 ? "-" : text;
    }

    private (string? Machine, string? Problem) CommonMachine(RecordSet baseSet, RecordSet diffSet)
    {
        var baseMachines = baseSet.Records.Select(r => r.Machine.Id).ToHashSet(StringComparer.Ordinal);
        var diffMachines = diffSet.Records.Select(r => r.Machine.Id).ToHashSet(StringComparer.Ordinal);
        var common = baseMachines.Intersect(diffMachines, StringComparer.Ordinal).ToList();
        if (options.MachineId is { } wanted)
        {
            return common.Contains(wanted)
                ? (wanted, null)
                : (wanted, $"machine '{wanted}' does not have records on both sides");
        }
        return common.Count switch
        {
            1 => (common[0], null),
            0 => (null, $"different machines: base on {string.Join(", ", baseMachines)}, diff on {string.Join(", ", diffMachines)}"),
            _ => (null, $"both sides have records from several machines ({string.Join(", ", common)}); choose one with --machine"),
        };
    }

    private static string? JobMismatch(SideSummary baseSummary, SideSummary diffSummary)
    {
        if (baseSummary.Jobs.Count > 1 || diffSummary.Jobs.Count > 1)
        {
            return "one side pools records made with different job settings";
        }
        if (baseSummary.Jobs.Count == 1 && diffSummary.Jobs.Count == 1 && baseSummary.Jobs[0] != diffSummary.Jobs[0])
        {
            return $"different job settings: base [{baseSummary.Jobs[0]}], diff [{diffSummary.Jobs[0]}]";
        }
        return null;
    }

    /// <summary>
    /// When a side holds records of several job settings (a commit with <c>record --profile full</c> records and
    /// <c>compare-commits --save</c> ones), keeps on both sides only the job they share (the one with the most records if
    /// they share several), and says what it left out; sides that share no job are left whole for
    /// <see cref="JobMismatch"/> to refuse.
    /// </summary>
    private static (string? Base, string? Diff) SharedJob(List<PerfRecord> baseRecords, List<PerfRecord> diffRecords)
    {
        var baseJobs = baseRecords.GroupBy(r => JobSignature(r.Run.Job)).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var diffJobs = diffRecords.GroupBy(r => JobSignature(r.Run.Job)).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        if (baseJobs.Count <= 1 && diffJobs.Count <= 1)
        {
            return (null, null);
        }
        var shared = baseJobs.Keys.Where(diffJobs.ContainsKey)
            .OrderByDescending(job => baseJobs[job] + diffJobs[job]).ThenBy(job => job, StringComparer.Ordinal).ToList();
        if (shared.Count == 0)
        {
            return (null, null);
        }
        string job = shared[0];
        return (Keep(baseRecords), Keep(diffRecords));

        string? Keep(List<PerfRecord> records)
        {
            int removed = records.RemoveAll(r => JobSignature(r.Run.Job) != job);
            return removed == 0 ? null : string.Create(CultureInfo.InvariantCulture,
                $"{removed} record(s) made with other job settings left out: compared on the job both sides share{(shared.Count > 1 ? " with the most records" : "")}");
        }
    }

    private static SideSummary Summarize(RecordSet set, List<PerfRecord> used, string? jobNote = null) => new()
    {
        Label = set.Label,
        Records = used.Count,
        Commits = used.Select(r => r.Commit.ShortSha + (r.Commit.Dirty ? "-dirty" : "")).Distinct().ToList(),
        Machines = set.Records.Select(r => r.Machine.Id).Distinct().ToList(),
        Jobs = used.Select(r => JobSignature(r.Run.Job)).Distinct().ToList(),
        LeftOut = jobNote is null ? set.LeftOut : [.. set.LeftOut, jobNote],
        Calibration = CalibrationSummary.Of(used),
    };

    /// <summary>The job settings as one comparable line.</summary>
    public static string JobSignature(SuiteProfile? job)
    {
        if (job is null)
        {
            return "unknown job (record made without the suite manifest)";
        }
        var environment = string.Join(",", job.Environment.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{job.Name}: launches {job.LaunchCount}, warmup {job.WarmupCount}, iterations {job.IterationCount} x {job.IterationTimeMs} ms, gcServer {job.GcServer}, gcConcurrent {job.GcConcurrent}, {environment}");
    }

    private static ComparisonReport NotComparable(SideSummary baseSummary, SideSummary diffSummary, string policy, string reason) => new()
    {
        Base = baseSummary,
        Diff = diffSummary,
        Policy = policy,
        Verdict = Verdict.NotComparable,
        NotComparableReason = reason,
        SummaryLine = "summary: not comparable",
        VerdictLine = $"verdict: NOT COMPARABLE, {reason} (exit 2)",
    };

    private static Dictionary<string, PooledBenchmark> Pool(IEnumerable<PerfRecord> records)
    {
        var pool = new Dictionary<string, PooledBenchmark>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            foreach (var benchmark in record.Benchmarks)
            {
                if (!pool.TryGetValue(benchmark.Id, out var pooled))
                {
                    pool[benchmark.Id] = pooled = new PooledBenchmark();
                }
                pooled.Add(benchmark, record.Run.Job?.LaunchCount ?? 1, record.Run.Round, record.Run.Job?.Name == Interleave.InterleavedRound.Profile.Name);
            }
        }
        return pool;
    }

    private static long? MedianOf(List<long> values)
    {
        if (values.Count == 0)
        {
            return null;
        }
        values.Sort();
        return values[values.Count / 2];
    }

    private static string SummaryLine(List<BenchmarkComparison> compared, int added, int missing)
    {
        var slower = compared.Where(c => c.Time == TimeOutcome.Slower).ToList();
        var faster = compared.Where(c => c.Time == TimeOutcome.Faster).ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"summary: {slower.Count} slower{GeoMean(slower)}, {faster.Count} faster{GeoMean(faster)}, " +
            $"{compared.Count(c => c.Time == TimeOutcome.Same)} same, {compared.Count(c => c.Time == TimeOutcome.Unknown)} unknown, " +
            $"{compared.Count(c => c.Time == TimeOutcome.NotEnoughEvidence)} not enough evidence, " +
            $"{compared.Count(c => c.Time == TimeOutcome.NotComparable)} not comparable, {compared.Count(c => c.Time == TimeOutcome.Failed)} failed, " +
            $"{compared.Count(c => c.AllocationChanged)} allocation changed, {added} new, {missing} missing");

        static string GeoMean(List<BenchmarkComparison> items)
        {
            var ratios = items.Select(c => c.Ratio).Where(r => double.IsFinite(r) && r > 0).ToList();
            return ratios.Count == 0
                ? ""
                : string.Create(CultureInfo.InvariantCulture, $" (geomean {Math.Exp(ratios.Average(Math.Log)):0.00}x)");
        }
    }

    private static string VerdictLine(List<BenchmarkComparison> compared, Verdict verdict)
    {
        int timeRegressions = compared.Count(c => c.Time == TimeOutcome.Slower && c.TimeGated);
        int allocRegressions = compared.Count(c => c.AllocationRegressed);
        int broken = compared.Count(c => c.DiffFailed);
        var failedInDiff = broken == 0 ? "" : $", {broken} benchmark(s) failed in diff only";
        int warnings = compared.Count(c => c.IsWarning);
        var warned = warnings == 0 ? "" : $"; {warnings} cross-thread slowdown(s) warned, not gated";
        return verdict switch
        {
            Verdict.Regression => $"verdict: REGRESSION, {timeRegressions} gated time regression(s), {allocRegressions} allocation increase(s){failedInDiff}{warned} (exit 1)",
            Verdict.NotEnoughEvidence => $"verdict: NOT ENOUGH EVIDENCE, no regression found but {compared.Count(c => c.IsInconclusive)} gated benchmark(s) undecided; {MoreRoundsAdvice(compared)}{warned} (exit 3)",
            _ => $"verdict: PASS, no regression on a gated metric{warned} (exit 0)",
        };
    }

    private static string MoreRoundsAdvice(List<BenchmarkComparison> compared)
    {
        var undecided = compared.Where(c => c.IsInconclusive).ToList();
        if (undecided.Exists(c => c.MoreRounds is null))
        {
            return string.Create(CultureInfo.InvariantCulture, $"at least one would likely stay undecided even with {LaunchTest.MostRoundsAdvised} more rounds (its launches spread too widely, or its shift sits right at the threshold)");
        }
        int most = undecided.Max(c => c.MoreRounds ?? 0);
        return string.Create(CultureInfo.InvariantCulture, $"about {most} more round(s) would decide them (raise --rounds by {most})");
    }

    internal static string StateName(CoreDistanceState state) => state.ToString().ToLowerInvariant();
}
