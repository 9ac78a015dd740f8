using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Interleave;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using IpiEngine.Tests.Perf.Interleave;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// Settling in <c>compare-commits</c>' interleaved rounds: which benchmarks the later rounds leave out (those found the
/// same, and those slower or faster at the interim alpha), and that the filters built for the rest select exactly them
/// in a worker.
/// </summary>
public sealed class SettledBenchmarksTests
{
    private const string Steady = "IpiEngine.Benchmarks.Apic.R.Steady(Case: A)";
    private const string Noisy = "IpiEngine.Benchmarks.Apic.R.Noisy(Case: B)";
    private const string Slowed = "IpiEngine.Benchmarks.Apic.R.Slowed(Case: C)";
    private static readonly string[] All = [Steady, Noisy, Slowed];
    private static readonly RunComparer Comparer = new(new ComparisonOptions { Unit = ComparisonUnit.Launch });

    /// <summary>
    /// <paramref name="count"/> rounds of both sides: Steady within ±0.5% in every pair, Noisy with its rounds ±20% apart
    /// (the BruteForceMatcher levels), Slowed 30% slower on B; the same seed gives the same blocks.
    /// </summary>
    private static (RecordSet A, RecordSet B) Rounds(int count)
    {
        var random = new Random(7);
        var a = new List<PerfRecord>();
        var b = new List<PerfRecord>();
        for (int round = 1; round <= count; round++)
        {
            double swing = round % 2 == 0 ? 1.2 : 0.8;
            double[] Blocks(double level) => [.. Enumerable.Range(0, 4).Select(_ => level * (1 + ((random.NextDouble() - 0.5) * 0.01)))];
            a.Add(SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (Steady, Blocks(100)), (Noisy, Blocks(500)), (Slowed, Blocks(40))));
            b.Add(SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (Steady, Blocks(100)), (Noisy, Blocks(500 * swing)), (Slowed, Blocks(52))));
        }
        return (SyntheticRecords.Set("A", [.. a]), SyntheticRecords.Set("B", [.. b]));
    }

    /// <summary>
    /// Review (s41): "same" was settled at the final look's level (0.05) after every round, so its repeated looks were not
    /// corrected. At the fewest rounds (7) the final look calls Steady the same, but 7 sign flips cannot reach the interim
    /// level (0.005): it keeps running, and settles after round 8, every round inside the threshold.
    /// </summary>
    [Fact]
    public void Same_and_slower_settle_only_at_the_interim_levels_same_from_round_8_slower_from_round_10()
    {
        var (a, b) = Rounds(Comparer.MinimumPairedRounds);
        var report = Comparer.Compare(a, b);
        Assert.Equal(TimeOutcome.Same, report.Benchmarks.Single(x => x.Id == Steady).Time);
        Assert.Equal(TimeOutcome.NotEnoughEvidence, report.Benchmarks.Single(x => x.Id == Noisy).Time);
        // Slower at 0.01 already, but 7 sign flips cannot reach 0.001: it keeps running.
        Assert.Equal(TimeOutcome.Slower, report.Benchmarks.Single(x => x.Id == Slowed).Time);

        Assert.Equal(All, SettledBenchmarks.Open(Comparer, a, b, All)); // was [Noisy, Slowed]: Steady settled at 0.05

        var (a8, b8) = Rounds(Comparer.MinimumPairedRounds + 1);
        Assert.Equal([Noisy, Slowed], SettledBenchmarks.Open(Comparer, a8, b8, All));
        // Only what the last round ran can stay open: a benchmark settled earlier is not brought back.
        Assert.Equal([Slowed], SettledBenchmarks.Open(Comparer, a8, b8, [Steady, Slowed]));

        var (a10, b10) = Rounds(10);
        Assert.Equal([Noisy], SettledBenchmarks.Open(Comparer, a10, b10, All));
    }

    /// <summary>
    /// The repeated "same" looks on synthetic runs (seeded): each round's log ratio Gaussian around 1.05 times the
    /// threshold's (a true slowdown of 5.25% against a 5% threshold), σ 0.06, looked at after rounds 7 to 11 as the
    /// settling does, the last look at the final level. Any look calling it the same ends it as "same", a wrong
    /// verdict: with every look at the final level (0.05) that happened in more than 5% of the runs (about 7%, 0.6% of
    /// them above), with the looks before the last at the interim level in fewer (about 3.7%). The rounds stop at 11
    /// to keep the exact sign flips (2^n per look) within a few seconds.
    /// </summary>
    [Fact]
    public void Repeated_same_looks_call_a_slowdown_just_beyond_the_threshold_the_same_no_more_often_than_the_level()
    {
        const int Runs = 1000, LastRound = 11;
        var threshold = new PracticalThreshold(0.05, 0.25);
        double delta = Math.Log(1.05);
        var finalLook = Comparer.Paired!;
        var interimLook = Comparer.ForInterimSameLooks().Paired!;
        var random = new Random(41);
        int uncorrected = 0, corrected = 0;
        for (int run = 0; run < Runs; run++)
        {
            var a = new List<LaunchObservation>();
            var b = new List<LaunchObservation>();
            for (int round = 1; round <= LastRound; round++)
            {
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                double diff = 100 * Math.Exp((1.05 * delta) + (0.06 * gaussian));
                a.Add(new LaunchObservation(100, CoreDistanceState.Far, round, [100.0]));
                b.Add(new LaunchObservation(diff, CoreDistanceState.Far, round, [diff]));
            }
            bool SameAt(PairedTest test, int rounds) => test.Compare(a[..rounds], b[..rounds], threshold).Outcome == TimeOutcome.Same;
            bool old = false, now = false;
            for (int rounds = Comparer.MinimumPairedRounds; rounds < LastRound; rounds++)
            {
                old = old || SameAt(finalLook, rounds);
                now = now || SameAt(interimLook, rounds);
            }
            bool last = (!old || !now) && SameAt(finalLook, LastRound);
            uncorrected += old || last ? 1 : 0;
            corrected += now || last ? 1 : 0;
        }

        double level = LaunchTest.DefaultEquivalenceAlpha;
        Assert.True(uncorrected > level * Runs, $"with every look at the final level, {uncorrected} of {Runs} runs were called the same");
        Assert.True(corrected <= level * Runs, $"with the looks before the last at the interim level, {corrected} of {Runs} runs were called the same");
    }

    private const string Added = "IpiEngine.Benchmarks.Apic.R.Added(Case: D)";

    /// <summary><paramref name="count"/> rounds of Steady on both sides; B also runs Added, which A does not have, and with <paramref name="bAllocates"/> B's Steady allocates 8 B/op.</summary>
    private static (RecordSet A, RecordSet B) RoundsWithAnAddedBenchmark(int count, bool bAllocates)
    {
        var random = new Random(3);
        var a = new List<PerfRecord>();
        var b = new List<PerfRecord>();
        for (int round = 1; round <= count; round++)
        {
            double[] Blocks(double level) => [.. Enumerable.Range(0, 4).Select(_ => level * (1 + ((random.NextDouble() - 0.5) * 0.01)))];
            a.Add(SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (Steady, Blocks(100))));
            var diff = SyntheticRecords.Interleaved("bbbbbbbbbbbb", round, (Steady, Blocks(100)), (Added, Blocks(70)));
            b.Add(bAllocates ? diff with { Benchmarks = [.. diff.Benchmarks.Select(x => x.Id == Steady ? x with { AllocatedBytesPerOp = 8 } : x)] } : diff);
        }
        return (SyntheticRecords.Set("A", [.. a]), SyntheticRecords.Set("B", [.. b]));
    }

    [Fact]
    public void A_benchmark_only_one_side_has_is_settled_at_once_so_it_does_not_run_alone_until_the_budget_ends()
    {
        // Steady settles "same" from round 8 on (the interim level); Added at the first look.
        var (a, b) = RoundsWithAnAddedBenchmark(Comparer.MinimumPairedRounds + 1, bAllocates: false);

        var settlement = SettledBenchmarks.Settle(Comparer, a, b, [Steady, Added]);

        Assert.Empty(settlement.Open);
        Assert.True(settlement.EndsRun(Comparer.MinimumPairedRounds + 1, extending: false));
        Assert.Empty(SettledBenchmarks.Open(Comparer, b, a, [Steady, Added])); // removed by the commit: the same
    }

    [Fact]
    public void A_benchmark_whose_time_is_the_same_but_allocation_changed_runs_only_to_the_warn_only_cap()
    {
        var (a, b) = RoundsWithAnAddedBenchmark(SettledBenchmarks.WarnOnlyRounds, bAllocates: true);
        var report = Comparer.Compare(a, b).Benchmarks.Single(x => x.Id == Steady);
        Assert.Equal(TimeOutcome.Same, report.Time);
        Assert.True(report.AllocationChanged);

        var settlement = SettledBenchmarks.Settle(Comparer, a, b, [Steady, Added]);

        Assert.Equal([Steady], settlement.Open); // not settled: it reports its allocation change at the end
        Assert.False(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds - 1, extending: false));
        Assert.True(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds, extending: false)); // more rounds cannot change its time verdict
    }

    private const string CrossNoisy = "IpiEngine.Benchmarks.EndToEnd.H.CrossNoisy";

    /// <summary>
    /// <paramref name="count"/> rounds: Steady as above, CrossNoisy a cross-thread benchmark 12% slower on B whose rounds
    /// swing by −33% to +49% (as <c>EnginePerStage</c>'s do), and, when <paramref name="withGatedNoisy"/>, the
    /// single-threaded Noisy 5% slower on B with rounds −15% to +17%: each sits on its threshold (12% cross-thread, 5%
    /// single-threaded), so neither is "same" nor slower however many rounds run.
    /// </summary>
    private static (RecordSet A, RecordSet B) WarnOnlyRounds(int count, bool withGatedNoisy)
    {
        var random = new Random(11);
        string[] apic = ["Apic"];
        string[] cross = ["EndToEnd", SuiteCategories.CrossThread];
        var a = new List<PerfRecord>();
        var b = new List<PerfRecord>();
        for (int round = 1; round <= count; round++)
        {
            double[] Blocks(double level) => [.. Enumerable.Range(0, 4).Select(_ => level * (1 + ((random.NextDouble() - 0.5) * 0.01)))];
            (string, IReadOnlyList<double>, string[])[] Side(double crossSwing, double swing) => withGatedNoisy
                ? [(Steady, Blocks(100), apic), (CrossNoisy, Blocks(2000 * crossSwing), cross), (Noisy, Blocks(500 * swing), apic)]
                : [(Steady, Blocks(100), apic), (CrossNoisy, Blocks(2000 * crossSwing), cross)];
            a.Add(SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, Side(1, 1)));
            // Swings symmetric in log, cycling every 5 rounds: the shift's estimate sits exactly on the threshold.
            double step = (round % 5) - 2;
            b.Add(SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, Side(1.12 * Math.Exp(step * 0.2), 1.05 * Math.Exp(step * 0.08))));
        }
        return (SyntheticRecords.Set("A", [.. a]), SyntheticRecords.Set("B", [.. b]));
    }

    [Fact]
    public void A_run_whose_only_undecided_benchmarks_are_warn_only_ends_after_as_many_rounds_as_whole_rounds_give()
    {
        string[] ran = [Steady, CrossNoisy];
        var (a19, b19) = WarnOnlyRounds(SettledBenchmarks.WarnOnlyRounds - 1, withGatedNoisy: false);
        var early = SettledBenchmarks.Settle(Comparer, a19, b19, ran);
        Assert.Equal([CrossNoisy], early.Open);
        Assert.Equal([CrossNoisy], early.WarnOnly);
        Assert.False(early.EndsRun(SettledBenchmarks.WarnOnlyRounds - 1, extending: false));

        var (a, b) = WarnOnlyRounds(SettledBenchmarks.WarnOnlyRounds, withGatedNoisy: false);
        var settlement = SettledBenchmarks.Settle(Comparer, a, b, ran);
        Assert.Equal([CrossNoisy], settlement.WarnOnly);
        Assert.True(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds, extending: false));
        Assert.Equal(Verdict.Pass, Comparer.Compare(a, b).Verdict); // its "not enough evidence" does not make the run inconclusive

        // Gated cross-thread time (--gate-cross-thread): the same benchmark keeps its rounds.
        var gating = new RunComparer(new ComparisonOptions { Unit = ComparisonUnit.Launch, GateCrossThread = true });
        var gated = SettledBenchmarks.Settle(gating, a, b, ran);
        Assert.Equal([CrossNoisy], gated.Open);
        Assert.Empty(gated.WarnOnly);
        Assert.False(gated.EndsRun(SettledBenchmarks.WarnOnlyRounds, extending: false));
    }

    private const string CrossClose = "IpiEngine.Benchmarks.EndToEnd.H.CrossClose";

    /// <summary>
    /// The rounds of <c>Channels</c> in a 25% detection run (2026-12-04, 0a7ac7f): +22% over 20 rounds, p slower 0.02,
    /// "about 1 more round(s) would decide", cut there by the cap.
    /// </summary>
    private static readonly double[] ChannelsOneMore =
        [+30.1, +25.0, +53.3, -0.1, +30.7, +31.4, +33.6, +19.9, +16.5, +26.1, +27.0, -29.4, +16.2, +32.3, +28.0, +39.9, +43.9, +26.5, +44.6, -16.1];

    /// <summary>
    /// The rounds of <c>Channels</c> in run 4 of a later 25% detection series (2026-12-04, e8fbb6b): +19.0% over 20
    /// rounds, p slower 0.017, "about 7 more round(s) would decide", cut by the cap while the allowance was 5 rounds.
    /// </summary>
    private static readonly double[] ChannelsSevenMore =
        [+42.1, +12.8, +24.5, -9.6, +12.1, +23.7, +31.2, +31.4, +33.0, +10.9, +20.7, +2.4, +17.9, +11.2, +11.9, +12.8, +54.0, +6.7, +21.7, +25.6];

    /// <summary>
    /// CrossClose's <paramref name="first"/> 20 rounds, then <paramref name="after"/>. Beside it for the first 20,
    /// CrossNoisy as in <see cref="WarnOnlyRounds"/>, which no number of rounds decides.
    /// </summary>
    private static (RecordSet A, RecordSet B) CloseRounds(double[] first, params double[] after)
    {
        double[] percents = [.. first, .. after];
        string[] cross = ["EndToEnd", SuiteCategories.CrossThread];
        var a = new List<PerfRecord>();
        var b = new List<PerfRecord>();
        for (int round = 1; round <= percents.Length; round++)
        {
            double step = (round % 5) - 2;
            double[] Blocks(double level) => [level, level, level, level];
            var (close, noisy) = (Blocks(40 * (1 + (percents[round - 1] / 100))), Blocks(2000 * 1.12 * Math.Exp(step * 0.2)));
            // Past round 20 only the close one runs, as the runner does.
            a.Add(round <= SettledBenchmarks.WarnOnlyRounds
                ? SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (CrossClose, Blocks(40), cross), (CrossNoisy, Blocks(2000), cross))
                : SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (CrossClose, Blocks(40), cross)));
            b.Add(round <= SettledBenchmarks.WarnOnlyRounds
                ? SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (CrossClose, close, cross), (CrossNoisy, noisy, cross))
                : SyntheticRecords.Interleaved("aaaaaaaaaaaa", round, (CrossClose, close, cross)));
        }
        return (SyntheticRecords.Set("A", [.. a]), SyntheticRecords.Set("B", [.. b]));
    }

    /// <summary>
    /// At the cap, CrossClose (rounds <paramref name="first"/>) is close and CrossNoisy is not, so the run goes on with
    /// CrossClose alone; rounds at about +25% then call it slower within the extra rounds, and the run ends there.
    /// Returns the extra rounds it took.
    /// </summary>
    private static int ExtraRoundsToVerdict(double[] first)
    {
        var (a, b) = CloseRounds(first);
        var atCap = SettledBenchmarks.Settle(Comparer, a, b, [CrossClose, CrossNoisy]);
        Assert.Equal([CrossClose, CrossNoisy], atCap.Open);
        Assert.True(atCap.PastWarnOnlyCap(SettledBenchmarks.WarnOnlyRounds));
        Assert.Equal([CrossClose], atCap.CloseWarnOnly); // the noisy one would stay undecided: it stops here
        Assert.False(atCap.EndsRun(SettledBenchmarks.WarnOnlyRounds, extending: false)); // before, the run ended here, Channels undecided
        Assert.Equal(TimeOutcome.NotEnoughEvidence, Comparer.Compare(a, b).Benchmarks.Single(x => x.Id == CrossClose).Time);

        // Its next rounds at about +25%: admitted at the cap, it stays open and the run goes on (whatever its estimate
        // says now) until the final look calls it slower; the run then ends with that verdict, within the extra rounds.
        double[] more = [+25.0, +22.0, +28.0, +24.0, +26.0, +23.0, +27.0, +25.0, +21.0, +29.0];
        for (int k = 1; k <= SettledBenchmarks.WarnOnlyExtraRounds; k++)
        {
            var (ak, bk) = CloseRounds(first, more[..k]);
            var time = Comparer.Compare(ak, bk).Benchmarks.Single(x => x.Id == CrossClose).Time;
            var settlement = SettledBenchmarks.Settle(Comparer, ak, bk, [CrossClose]);
            if (time == TimeOutcome.Slower)
            {
                Assert.True(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds + k, extending: true));
                return k;
            }
            Assert.Equal([CrossClose], settlement.Open);
            Assert.False(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds + k, extending: true));
        }
        Assert.Fail($"not slower after {SettledBenchmarks.WarnOnlyExtraRounds} extra rounds");
        return 0;
    }

    [Fact]
    public void A_warn_only_benchmark_a_round_from_its_verdict_runs_past_the_cap_alone_and_gets_it()
        // The two negative rounds keep p near 0.02 for a few rounds, more than the "about 1" estimate says.
        => Assert.InRange(ExtraRoundsToVerdict(ChannelsOneMore), 2, SettledBenchmarks.WarnOnlyExtraRounds);

    [Fact]
    public void A_warn_only_benchmark_seven_rounds_from_its_verdict_runs_past_the_cap_alone_and_gets_it()
        // Its estimate rose to "about 11" after one more round (the old rule evicted it there); it takes 4.
        => Assert.InRange(ExtraRoundsToVerdict(ChannelsSevenMore), 2, SettledBenchmarks.WarnOnlyExtraRounds);

    [Fact]
    public void A_close_warn_only_benchmark_gets_at_most_the_extra_rounds_and_never_outlasts_a_gated_one()
    {
        int cap = SettledBenchmarks.WarnOnlyRounds, last = cap + SettledBenchmarks.WarnOnlyExtraRounds;
        var close = new Settlement([CrossClose], [CrossClose], [CrossClose], [CrossClose]);
        Assert.False(close.EndsRun(cap, extending: false));
        Assert.False(close.EndsRun(last - 1, extending: true));
        Assert.True(close.EndsRun(last, extending: true));

        // Admitted at the cap, it keeps its extra rounds when a later round's estimate asks for more than are left.
        var estimateGrew = new Settlement([CrossClose], [CrossClose], [], [CrossClose]);
        Assert.False(estimateGrew.EndsRun(cap + 1, extending: true));
        Assert.True(estimateGrew.EndsRun(last, extending: true));

        // Called slower by the final look though not yet by the interim ones: the run ends with that verdict.
        Assert.True(new Settlement([CrossClose], [CrossClose], [], []).EndsRun(cap + 1, extending: true));

        var hopeless = new Settlement([CrossNoisy], [CrossNoisy], [], [CrossNoisy]);
        Assert.False(hopeless.EndsRun(cap - 1, extending: false));
        Assert.True(hopeless.EndsRun(cap, extending: false));

        // A gated benchmark still open keeps the run going whatever the warn-only ones do (the budget ends it).
        var gated = new Settlement([CrossClose, Noisy], [CrossClose], [CrossClose], [CrossClose]);
        Assert.False(gated.PastWarnOnlyCap(last));
        Assert.False(gated.EndsRun(last + 10, extending: false));
        Assert.True(new Settlement([], [], [], []).EndsRun(1, extending: false));
    }

    [Fact]
    public void An_undecided_gated_benchmark_keeps_the_run_going_beside_warn_only_ones()
    {
        var (a, b) = WarnOnlyRounds(SettledBenchmarks.WarnOnlyRounds + 5, withGatedNoisy: true);
        var settlement = SettledBenchmarks.Settle(Comparer, a, b, [Steady, CrossNoisy, Noisy]);
        Assert.Equal([CrossNoisy, Noisy], settlement.Open);
        Assert.Equal([CrossNoisy], settlement.WarnOnly);
        Assert.False(settlement.EndsRun(SettledBenchmarks.WarnOnlyRounds + 5, extending: false));
    }

    [Fact]
    public void A_clear_slowdown_settles_once_the_rounds_reach_the_interim_alpha_and_keeps_its_verdict()
    {
        var (nine, nineB) = Rounds(9);
        Assert.Equal([Noisy, Slowed], SettledBenchmarks.Open(Comparer, nine, nineB, All));
        var (a, b) = Rounds(10);
        Assert.Equal([Noisy], SettledBenchmarks.Open(Comparer, a, b, All));
        Assert.Equal(TimeOutcome.Slower, Comparer.Compare(a, b).Benchmarks.Single(x => x.Id == Slowed).Time);
    }

    [Fact]
    public void Interim_looks_test_slower_and_faster_at_0_001_unless_the_user_asked_for_stricter()
    {
        Assert.Equal(10, Comparer.ForInterimLooks().MinimumPairedRounds); // 2^-10 < 0.001 < 2^-9
        var strict = new RunComparer(new ComparisonOptions { Unit = ComparisonUnit.Launch, Alpha = 0.0001 });
        Assert.Equal(strict.MinimumPairedRounds, strict.ForInterimLooks().MinimumPairedRounds);
    }

    [Fact]
    public void Before_the_fewest_rounds_that_can_decide_nothing_settles()
    {
        var (a, b) = Rounds(Comparer.MinimumPairedRounds - 1);
        Assert.Equal(All, SettledBenchmarks.Open(Comparer, a, b, All));
    }

    [Fact]
    public void A_settled_benchmark_stays_the_same_in_the_final_report_over_the_rounds_it_ran()
    {
        // Rounds 1-8 ran all three; rounds 9-12 only the two left open, as the runner does after settling.
        var (a, b) = Rounds(12);
        static RecordSet Without(RecordSet set, string id, int afterRound) => SyntheticRecords.Set(set.Label,
            [.. set.Records.Select(r => r.Run.Round > afterRound ? r with { Benchmarks = [.. r.Benchmarks.Where(x => x.Id != id)] } : r)]);
        var report = Comparer.Compare(Without(a, Steady, 8), Without(b, Steady, 8));
        var steady = report.Benchmarks.Single(x => x.Id == Steady);
        Assert.Equal(TimeOutcome.Same, steady.Time);
        Assert.Contains("over 8 paired round(s)", steady.Reason, StringComparison.Ordinal);
        Assert.Contains("over 12 paired round(s)", report.Benchmarks.Single(x => x.Id == Slowed).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_filters_for_the_open_benchmarks_select_exactly_those_cases_in_a_worker()
    {
        var cases = BenchmarkCase.Discover(typeof(FakeSuite).Assembly, ["*Interleave.FakeSuite.*"]);
        var open = cases.Where((_, i) => i % 3 == 1).Select(c => c.Id).ToList();
        var selected = BenchmarkCase.Discover(typeof(FakeSuite).Assembly, SettledBenchmarks.FiltersFor(open));
        Assert.Equal(open, selected.Select(c => c.Id));
        // A wildcard in an id is matched as one character, never as a run of them.
        Assert.Equal(["IpiEngine.Benchmarks.X.Y(Case: a?b)"], SettledBenchmarks.FiltersFor(["IpiEngine.Benchmarks.X.Y(Case: a*b)"]));
    }

    [Fact]
    public void Once_rounds_are_focused_the_plan_may_go_past_the_usual_cap_at_the_last_round_s_cost()
    {
        // 8 minutes of 15 gone, focused rounds of 10 s: 42 more fit, past the 20 a plan of whole rounds stops at.
        var plan = BudgetPlanner.Plan(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(8), TimeSpan.FromSeconds(10), 7, 7, BudgetPlanner.MostFocusedRounds);
        Assert.Equal(49, plan.Rounds);
        Assert.True(plan.WithinBudget);
        var whole = BudgetPlanner.Plan(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(8), TimeSpan.FromSeconds(10), 7, 7);
        Assert.Equal(BudgetPlanner.MostRounds, whole.Rounds);
    }
}
