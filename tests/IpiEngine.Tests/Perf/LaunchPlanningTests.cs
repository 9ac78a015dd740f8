using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Suite;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>The ABBA schedule, the budget planner and the A/A rate counting of <c>compare-commits</c> and <c>aa</c>.</summary>
public sealed class LaunchPlanningTests
{
    [Fact]
    public void Rounds_alternate_their_order_so_each_side_runs_first_half_the_time()
    {
        var order = LaunchSchedule.Launches(4).Select(l => l.Side.ToString());
        Assert.Equal("ABBAABBA", string.Concat(order));
        Assert.Equal([1, 1, 2, 2, 3, 3, 4, 4], LaunchSchedule.Launches(4).Select(l => l.Round));
        Assert.Throws<ArgumentOutOfRangeException>(() => LaunchSchedule.Round(0));
    }

    [Fact]
    public void The_plan_fills_the_budget_with_the_measured_round_time()
    {
        // Builds took 3 minutes, round 1 took 75 s: 15 min leaves 645 s, 8 more rounds.
        var plan = BudgetPlanner.Plan(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(255), TimeSpan.FromSeconds(75), roundsDone: 1, minimumRounds: 5);
        Assert.Equal(9, plan.Rounds);
        Assert.True(plan.WithinBudget);
        Assert.True(plan.Estimated <= TimeSpan.FromMinutes(15));
        Assert.Contains("plan: 9 rounds (18 launches)", plan.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plan_never_goes_below_the_minimum_and_says_when_that_is_over_budget()
    {
        var plan = BudgetPlanner.Plan(TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(8), TimeSpan.FromMinutes(4), roundsDone: 1, minimumRounds: 5);
        Assert.Equal(5, plan.Rounds);
        Assert.False(plan.WithinBudget);
        Assert.Contains("over budget", plan.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plan_stops_at_the_cap_on_a_fast_set_and_never_undoes_rounds_already_run()
    {
        Assert.Equal(BudgetPlanner.MostRounds, BudgetPlanner.Plan(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5), 1, 5).Rounds);
        Assert.Equal(7, BudgetPlanner.Plan(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(40), roundsDone: 7, minimumRounds: 5).Rounds);
    }

    [Fact]
    public void The_eta_is_the_average_launch_time_times_the_launches_left()
    {
        Assert.Equal(TimeSpan.FromSeconds(120), BudgetPlanner.Remaining(TimeSpan.FromSeconds(60), launchesDone: 2, launchesTotal: 6));
        Assert.Equal(TimeSpan.Zero, BudgetPlanner.Remaining(TimeSpan.Zero, 0, 6));
        Assert.Equal("12m05s", BudgetPlanner.Duration(TimeSpan.FromSeconds(725)));
        Assert.Equal("40s", BudgetPlanner.Duration(TimeSpan.FromSeconds(40)));
    }

    [Theory]
    [InlineData("15m", 900)]
    [InlineData("90s", 90)]
    [InlineData("1h", 3600)]
    [InlineData("20", 1200)]
    public void Budgets_parse(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), BudgetPlanner.ParseBudget(text));

    [Theory]
    [InlineData("soon")]
    [InlineData("-5m")]
    [InlineData("0s")]
    public void Bad_budgets_are_one_sentence(string text) =>
        Assert.DoesNotContain('\n', Assert.Throws<PerfInputException>(() => BudgetPlanner.ParseBudget(text)).Message);

    [Theory]
    [InlineData("10%", 0.10)]
    [InlineData("25%", 0.25)]
    [InlineData("0%", 0)]
    public void Slowdowns_parse(string text, double fraction) =>
        Assert.Equal(fraction, SuiteSlowdown.Parse(text, "--slowdown"), precision: 9);

    [Theory]
    [InlineData("10")]
    [InlineData("-10%")]
    [InlineData("900%")]
    public void Bad_slowdowns_are_refused(string text) =>
        Assert.Throws<PerfInputException>(() => SuiteSlowdown.Parse(text, "--slowdown"));

    [Theory]
    [InlineData(1024, 0.10, 102)]
    [InlineData(1024, 0.25, 256)]
    [InlineData(1024, 0, 0)]
    [InlineData(1024, 4, 4096)]
    [InlineData(10, 0.05, 1)]
    public void A_slowdown_by_extra_work_adds_that_fraction_of_the_operations(int operations, double fraction, int extra) =>
        Assert.Equal(extra, SuiteSlowdown.ExtraOperations(operations, fraction));

    [Theory]
    [InlineData("10%", "00%")]
    [InlineData("25%", "00%")]
    [InlineData("12.5%", "0000%")]
    [InlineData("5%", "0%")]
    [InlineData(" 10% ", "00%")]
    public void The_unslowed_side_gets_the_switch_off_at_the_same_length(string slowed, string unslowed)
    {
        Assert.Equal(unslowed, SuiteSlowdown.Unslowed(slowed));
        Assert.Equal(0, SuiteSlowdown.Parse(unslowed, "test"));
        Assert.Equal(slowed.Trim().Length, unslowed.Length);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(4.5)]
    [InlineData(double.NaN)]
    public void Extra_work_outside_the_slowdown_range_is_refused(double fraction) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SuiteSlowdown.ExtraOperations(1024, fraction));

    internal static ComparisonReport Report(Verdict verdict, params TimeOutcome[] outcomes) => new()
    {
        Base = new SideSummary { Label = "A" },
        Diff = new SideSummary { Label = "B" },
        Policy = "test",
        Verdict = verdict,
        VerdictLine = "verdict",
        SummaryLine = "summary",
        Benchmarks = outcomes.Select((o, i) => new BenchmarkComparison { Id = $"Ns.Type.M{i}", Time = o }).ToList(),
    };

    [Fact]
    public void An_aa_series_counts_every_run_that_called_anything_slower_or_faster_as_false()
    {
        var rates = VerdictRates.From("abc", separateBuilds: false, slowdown: 0,
        [
            Report(Verdict.Pass, TimeOutcome.Same, TimeOutcome.Same),
            Report(Verdict.Pass, TimeOutcome.Same, TimeOutcome.Faster),
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.Same),
            Report(Verdict.NotEnoughEvidence, TimeOutcome.NotEnoughEvidence, TimeOutcome.Same),
        ]);
        Assert.Equal(4, rates.Runs);
        Assert.Equal(2, rates.RunsWithFalseVerdict);
        Assert.Equal(2, rates.Verdicts["Pass"]);
        Assert.Equal(1, rates.Benchmarks[0].Undecided);
        Assert.Contains("A/A false verdicts: 2 of 4 run(s) (50%)", rates.SummaryLine, StringComparison.Ordinal);
        Assert.Contains("\"runsWithFalseVerdict\": 2", VerdictRatesJson.Serialize(rates), StringComparison.Ordinal);
    }

    [Fact]
    public void A_slowed_series_counts_runs_that_caught_every_benchmark()
    {
        var rates = VerdictRates.From("abc", separateBuilds: true, slowdown: 0.10,
        [
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.Slower),
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.NotEnoughEvidence),
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.Slower),
        ]);
        Assert.Equal(2, rates.RunsAllDetected);
        Assert.Equal(0, rates.RunsWithFalseVerdict);
        Assert.Equal(2, rates.Benchmarks[1].Slower);
        Assert.Contains("every benchmark flagged SLOWER in the same run in 2 of 3 run(s)", rates.SummaryLine, StringComparison.Ordinal);
        Assert.Contains("Type.M1 2/3", rates.SummaryLine, StringComparison.Ordinal);
        Assert.Equal("Ns.Type.M1", rates.LeastDetected?.Id);
        Assert.Contains("the least-caught benchmark, Type.M1, flagged SLOWER in 2 of 3 run(s)", rates.SummaryLine, StringComparison.Ordinal);
        Assert.Contains("\"leastDetected\"", VerdictRatesJson.Serialize(rates), StringComparison.Ordinal);
    }

    [Fact]
    public void The_least_caught_benchmark_is_the_one_with_the_fewest_slower_runs_and_an_aa_series_has_none()
    {
        var slowed = VerdictRates.From("abc", separateBuilds: false, slowdown: 0.25,
        [
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.Slower, TimeOutcome.Slower),
            Report(Verdict.Regression, TimeOutcome.Same, TimeOutcome.Slower, TimeOutcome.Slower),
            Report(Verdict.Regression, TimeOutcome.Slower, TimeOutcome.Slower, TimeOutcome.NotEnoughEvidence),
            Report(Verdict.Regression, TimeOutcome.NotEnoughEvidence, TimeOutcome.Slower, TimeOutcome.Slower),
        ]);
        Assert.Equal("Ns.Type.M0", slowed.LeastDetected?.Id);
        Assert.Equal(2, slowed.LeastDetected?.Slower);
        Assert.Contains("the least-caught benchmark, Type.M0, flagged SLOWER in 2 of 4 run(s)", slowed.SummaryLine, StringComparison.Ordinal);
        Assert.Contains("in the same run in 1 of 4 run(s)", slowed.SummaryLine, StringComparison.Ordinal);

        var aa = VerdictRates.From("abc", separateBuilds: false, slowdown: 0, [Report(Verdict.Pass, TimeOutcome.Same)]);
        Assert.Null(aa.LeastDetected);
        Assert.DoesNotContain("leastDetected", VerdictRatesJson.Serialize(aa), StringComparison.Ordinal);
    }

    [Fact]
    public void A_series_reads_its_rates_per_core_state_from_both_sides_probe_readings()
    {
        static ComparisonReport Measured(Verdict verdict, TimeOutcome outcome, int near, int far, int mixed) =>
            Report(verdict, outcome) with
            {
                Base = new SideSummary { Label = "A", Calibration = new CalibrationSummary { Near = near, Far = far } },
                Diff = new SideSummary { Label = "B", Calibration = new CalibrationSummary { Near = near, Far = far, Mixed = mixed } },
            };

        var rates = VerdictRates.From("abc", separateBuilds: false, slowdown: 0,
        [
            Measured(Verdict.Pass, TimeOutcome.Same, near: 0, far: 20, mixed: 0),
            Measured(Verdict.Pass, TimeOutcome.Faster, near: 3, far: 17, mixed: 0),
            Measured(Verdict.Pass, TimeOutcome.Same, near: 0, far: 19, mixed: 1),
            Measured(Verdict.Pass, TimeOutcome.Same, near: 20, far: 0, mixed: 0),
        ]);

        Assert.Equal(["far", "both", "both", "near"], rates.RunDetails.Select(r => r.States));
        Assert.Equal(40, rates.RunDetails[0].Far);
        Assert.Equal(1, rates.RunDetails[2].Mixed);
        Assert.True(rates.RunDetails[1].FalseVerdict);
        Assert.Equal("states: both 2 run(s), 1 with a false verdict; far 1 run(s), 0 with a false verdict; near 1 run(s), 0 with a false verdict", rates.StatesLine);
        Assert.Contains("\"states\": \"both\"", VerdictRatesJson.Serialize(rates), StringComparison.Ordinal);
        Assert.Equal("both (near 6, far 34, mixed 0)", rates.RunDetails[1].ToString());
    }

    [Fact]
    public void A_slowed_series_reads_its_detection_per_core_state()
    {
        var rates = VerdictRates.From("abc", separateBuilds: false, slowdown: 0.10,
        [
            Report(Verdict.Regression, TimeOutcome.Slower) with { Base = new SideSummary { Label = "A", Calibration = new CalibrationSummary { Far = 5 } } },
            Report(Verdict.Regression, TimeOutcome.Same) with { Base = new SideSummary { Label = "A", Calibration = new CalibrationSummary { Far = 5 } } },
        ]);
        Assert.Equal("states: far 2 run(s), 1 with every benchmark flagged, 0 with one called faster", rates.StatesLine);
    }
}
