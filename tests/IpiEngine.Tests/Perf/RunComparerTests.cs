using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Suite;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

/// <summary>The verdict policy on synthetic samples with known shifts.</summary>
public class RunComparerTests
{
    private const string Id = "Bench.Rings.Post";
    private static readonly RunComparer Comparer = new(new ComparisonOptions());

    [Fact]
    public void A_20_percent_slowdown_with_15_samples_per_side_is_a_regression()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 1)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(120, 15, seed: 2)))));
        var result = Assert.Single(report.Benchmarks);
        Assert.Equal(TimeOutcome.Slower, result.Time);
        Assert.InRange(result.Ratio, 1.15, 1.25);
        Assert.Equal(Verdict.Regression, report.Verdict);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public void Identical_distributions_are_not_flagged()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 3)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 4)))));
        Assert.Equal(TimeOutcome.Same, Assert.Single(report.Benchmarks).Time);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public void A_20_percent_speedup_is_reported_faster_and_passes()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 5)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(80, 15, seed: 6)))));
        Assert.Equal(TimeOutcome.Faster, Assert.Single(report.Benchmarks).Time);
        Assert.Equal(0, report.ExitCode);
        Assert.Contains("1 faster", report.SummaryLine, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shift_below_the_absolute_noise_floor_is_not_a_change()
    {
        // 2 ns -> 2.4 ns is 20% but only 0.4 ns: under the 1 ns floor.
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(2, 15, seed: 7)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(2.4, 15, seed: 8)))));
        Assert.Equal(TimeOutcome.Same, Assert.Single(report.Benchmarks).Time);
    }

    [Fact]
    public void Any_allocation_increase_on_a_hot_path_benchmark_fails_even_at_equal_speed()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 9), allocated: 0))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 10), allocated: 24))));
        var result = Assert.Single(report.Benchmarks);
        Assert.True(result.AllocationIncreased);
        Assert.True(result.IsRegression);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public void An_allocation_increase_in_the_baselines_area_is_reported_but_not_gated()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 11), allocated: 0, categories: SuiteCategories.Baselines))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 12), allocated: 24, categories: SuiteCategories.Baselines))));
        Assert.True(Assert.Single(report.Benchmarks).AllocationChanged);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public void Records_from_different_machines_are_not_comparable()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", "machine-a", SuiteProfile.Full, false, Benchmark(Id, Samples(100, 15, seed: 13)))),
            Set("diff", Record("bbb", "machine-b", SuiteProfile.Full, false, Benchmark(Id, Samples(100, 15, seed: 14)))));
        Assert.Equal(Verdict.NotComparable, report.Verdict);
        Assert.Equal(2, report.ExitCode);
        Assert.Contains("different machines", report.NotComparableReason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_side_with_records_of_two_jobs_is_compared_on_the_job_both_sides_share()
    {
        // A commit with record --profile full records and compare-commits --save ones: it was NOT COMPARABLE (exit 2)
        // against anything, "one side pools records made with different job settings".
        var report = Comparer.Compare(
            Set("base", Record("aaa", Machine, SuiteProfile.Full, false, Benchmark(Id, Samples(100, 15, seed: 49))),
                Record("aaa", Machine, SuiteProfile.Ci, false, Benchmark(Id, Samples(300, 15, seed: 50)))),
            Set("diff", Record("bbb", Machine, SuiteProfile.Full, false, Benchmark(Id, Samples(100, 15, seed: 51)))));

        Assert.Equal(0, report.ExitCode);
        Assert.Equal(TimeOutcome.Same, Assert.Single(report.Benchmarks).Time); // the 300 ns Ci record was not pooled in
        Assert.Equal(1, report.Base.Records);
        Assert.Contains(report.Base.LeftOut, note => note.StartsWith("1 record(s) made with other job settings left out", StringComparison.Ordinal));
        Assert.Empty(report.Diff.LeftOut);
    }

    [Fact]
    public void Records_made_with_different_job_settings_are_not_comparable()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Machine, SuiteProfile.Full, false, Benchmark(Id, Samples(100, 15, seed: 15)))),
            Set("diff", Record("bbb", Machine, SuiteProfile.Ci, false, Benchmark(Id, Samples(100, 15, seed: 16)))));
        Assert.Equal(2, report.ExitCode);
        Assert.Contains("different job settings", report.NotComparableReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Sides_without_a_common_benchmark_are_not_comparable()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark("A.One", Samples(100, 15, seed: 17)))),
            Set("diff", Record("bbb", Benchmark("B.Two", Samples(100, 15, seed: 18)))));
        Assert.Equal(2, report.ExitCode);
    }

    [Fact]
    public void Same_cross_thread_code_measured_near_then_far_gives_no_regression_verdict()
    {
        // The same code: about 100 ns per hand-off near and 250 ns far (the far state is 2.5x slower).
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 19), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(250, 15, seed: 20), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread))));
        var result = Assert.Single(report.Benchmarks);
        Assert.Equal(TimeOutcome.NotComparable, result.Time);
        // Nothing else to compare: the whole comparison is "not comparable" (exit 2), never a regression.
        Assert.Equal(Verdict.NotComparable, report.Verdict);
        Assert.Equal(30, result.LeftOutSamples);
        Assert.Contains("no common calibration state", result.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void Cross_thread_samples_are_compared_only_within_the_shared_state()
    {
        // Base saw both states, diff only far: only far is compared, and the same code stays the same.
        var report = Comparer.Compare(
            Set("base",
                Record("aaa", Benchmark(Id, Samples(100, 15, seed: 21), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread)),
                Record("aaa", Benchmark(Id, Samples(250, 15, seed: 22), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(250, 15, seed: 23), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread))));
        var result = Assert.Single(report.Benchmarks);
        Assert.Equal(TimeOutcome.Same, result.Time);
        Assert.Equal("far", result.State);
        Assert.Equal(15, result.LeftOutSamples);
        Assert.Equal(0, report.ExitCode);
    }

    [Fact]
    public void A_real_20_percent_cross_thread_slowdown_in_the_same_state_is_flagged()
    {
        var baseSet = Set("base", Record("aaa", Benchmark(Id, Samples(250, 15, seed: 24), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread)));
        var diffSet = Set("diff", Record("bbb", Benchmark(Id, Samples(300, 15, seed: 25), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread)));

        var warned = Comparer.Compare(baseSet, diffSet);
        Assert.Equal(TimeOutcome.Slower, Assert.Single(warned.Benchmarks).Time);
        Assert.True(warned.Benchmarks[0].IsWarning);
        Assert.Equal(0, warned.ExitCode);
        Assert.Contains("warned", warned.VerdictLine, StringComparison.Ordinal);

        var gated = new RunComparer(new ComparisonOptions { GateCrossThread = true }).Compare(baseSet, diffSet);
        Assert.Equal(1, gated.ExitCode);
    }

    [Fact]
    public void Mixed_state_samples_are_left_out_and_counted()
    {
        var report = Comparer.Compare(
            Set("base",
                Record("aaa", Benchmark(Id, Samples(100, 15, seed: 26), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread)),
                Record("aaa", Benchmark(Id, Samples(180, 15, seed: 27), state: CoreDistanceState.Mixed, categories: SuiteCategories.CrossThread))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 28), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread))));
        var result = Assert.Single(report.Benchmarks);
        Assert.Equal(TimeOutcome.Same, result.Time);
        Assert.Equal(15, result.LeftOutSamples);
        Assert.Equal(1, report.Base.Calibration!.Mixed);
    }

    [Fact]
    public void Single_threaded_benchmarks_pool_every_state_and_the_summary_shows_calibration()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 29), state: CoreDistanceState.Near))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(120, 15, seed: 30), state: CoreDistanceState.Far))));
        Assert.Equal(TimeOutcome.Slower, Assert.Single(report.Benchmarks).Time);
        Assert.Equal(1, report.Base.Calibration!.Near);
        Assert.Equal(1, report.Diff.Calibration!.Far);
        Assert.Contains(ComparisonTables.HeaderLines(report), line => line.Contains("near 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Tables_and_markdown_show_the_slower_benchmark_and_the_verdict()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 31), allocated: 0))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(120, 15, seed: 32), allocated: 8))));
        var tables = ComparisonTables.Build(report);
        Assert.Equal(["Slower", "Allocation changed"], tables.Select(t => t.Title));
        var writer = new StringWriter();
        ComparisonMarkdown.Write(report, writer);
        var markdown = writer.ToString();
        Assert.Contains("| Slower |", markdown, StringComparison.Ordinal);
        Assert.Contains(Id, markdown, StringComparison.Ordinal);
        Assert.Contains("verdict: REGRESSION", markdown, StringComparison.Ordinal);
        Assert.Contains("\"verdict\": \"Regression\"", ComparisonJson.Serialize(report), StringComparison.Ordinal);
    }

    [Fact]
    public void Three_samples_per_side_give_no_time_verdict_even_for_a_large_shift_and_alone_no_pass()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 3, seed: 33)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(200, 3, seed: 34)))));
        Assert.Equal(TimeOutcome.Unknown, Assert.Single(report.Benchmarks).Time);
        Assert.Equal(2, report.ExitCode); // was PASS (0): a 2x slowdown nothing could test passed
        Assert.Contains("no common benchmark could be compared", report.VerdictLine, StringComparison.Ordinal);

        var withDecided = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 3, seed: 33)), Benchmark("Other", Samples(10, 15, seed: 44)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(200, 3, seed: 34)), Benchmark("Other", Samples(10, 15, seed: 45)))));
        Assert.Equal(0, withDecided.ExitCode); // one decided benchmark: the too-short one is listed, not gated
    }

    [Fact]
    public void A_benchmark_that_failed_only_in_the_diff_is_a_regression()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 46)), Benchmark("Other", Samples(10, 15, seed: 47)))),
            Set("diff", Record("bbb", Benchmark(Id, []), Benchmark("Other", Samples(10, 15, seed: 48)))));

        var broken = report.Benchmarks.Single(b => b.Id == Id);
        Assert.Equal(TimeOutcome.Failed, broken.Time);
        Assert.True(broken.DiffFailed);
        Assert.Equal(Verdict.Regression, report.Verdict); // was PASS (exit 0): the diff broke a benchmark and CI went green
        Assert.Equal(1, report.ExitCode);
        Assert.Contains("1 benchmark(s) failed in diff only", report.VerdictLine, StringComparison.Ordinal);
        Assert.Contains("\"diffFailed\": true", ComparisonJson.Serialize(report), StringComparison.Ordinal);
        var failedTable = Assert.Single(ComparisonTables.Build(report), t => t.Title == "Failed in diff");
        Assert.Equal(Id, Assert.Single(failedTable.Rows)[0]);
        Assert.DoesNotContain(ComparisonTables.Build(report), t => t.Title == "Not compared");

        var allBroken = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 46)))),
            Set("diff", Record("bbb", Benchmark(Id, []))));
        Assert.Equal(1, allBroken.ExitCode); // was NOT COMPARABLE (2): every benchmark broken is a regression too

        var bothBroken = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, []), Benchmark("Other", Samples(10, 15, seed: 47)))),
            Set("diff", Record("bbb", Benchmark(Id, []), Benchmark("Other", Samples(10, 15, seed: 48)))));
        Assert.False(bothBroken.Benchmarks.Single(b => b.Id == Id).DiffFailed);
        Assert.Equal(0, bothBroken.ExitCode); // broken before the diff: not the diff's regression
    }

    [Fact]
    public void A_state_switch_on_a_cross_thread_benchmark_does_not_fail_a_comparison_that_has_other_benchmarks()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa",
                Benchmark("Ring.Handoff", Samples(100, 15, seed: 35), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread),
                Benchmark("Apic.Decode", Samples(10, 15, seed: 36), state: CoreDistanceState.Near))),
            Set("diff", Record("bbb",
                Benchmark("Ring.Handoff", Samples(260, 15, seed: 37), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread),
                Benchmark("Apic.Decode", Samples(10, 15, seed: 38), state: CoreDistanceState.Far))));
        Assert.Equal(Verdict.Pass, report.Verdict);
        Assert.Equal(TimeOutcome.NotComparable, report.Benchmarks.Single(b => b.Id == "Ring.Handoff").Time);
        Assert.Equal(TimeOutcome.Same, report.Benchmarks.Single(b => b.Id == "Apic.Decode").Time);
        Assert.Contains(ComparisonTables.Build(report), t => t.Title == "Not compared");
    }

    [Fact]
    public void End_to_end_and_baseline_areas_count_as_cross_thread_even_untagged()
    {
        Assert.True(SuiteCategories.IsCrossThread(["EndToEnd"]));
        Assert.True(SuiteCategories.IsCrossThread(["Baselines"]));
        Assert.True(SuiteCategories.IsCrossThread(["Pipeline"]));
        Assert.True(SuiteCategories.IsCrossThread(["Native"]));
        Assert.True(SuiteCategories.IsCrossThread(["Transport"]));
        Assert.False(SuiteCategories.IsCrossThread(["Rings"]));
        Assert.True(SuiteCategories.IsCrossThread(["Rings", "CrossThread"]));
        Assert.False(SuiteCategories.IsCrossThread(["Pipeline", "SingleThread"])); // an inline pass in a cross-thread area
        Assert.True(SuiteCategories.IsCrossThread(["Pipeline", "SingleThread", "CrossThread"])); // the explicit cross-thread tag wins
        Assert.False(SuiteCategories.IsCrossThread(["Apic", "SingleThread"]));
        Assert.False(SuiteCategories.IsCrossThread(["Apic", "ZeroAlloc"]));
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 39), state: CoreDistanceState.Near, categories: "EndToEnd"))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(250, 15, seed: 40), state: CoreDistanceState.Far, categories: "EndToEnd"))));
        Assert.Equal(TimeOutcome.NotComparable, Assert.Single(report.Benchmarks).Time);
    }

    [Fact]
    public void A_benchmark_that_failed_on_one_side_is_listed_and_still_serializes()
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, []), Benchmark("Other", Samples(10, 15, seed: 41)))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 42)), Benchmark("Other", Samples(10, 15, seed: 43)))));
        Assert.Equal(TimeOutcome.Failed, report.Benchmarks.Single(b => b.Id == Id).Time);
        Assert.Equal(0, report.ExitCode);
        Assert.Contains("\"ratio\": \"NaN\"", ComparisonJson.Serialize(report), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 8, true)]
    [InlineData(400, 420, false)]
    [InlineData(400, 480, true)]
    public void A_cross_thread_rig_that_already_allocates_fails_only_beyond_10_percent(long before, long after, bool fails)
    {
        var report = Comparer.Compare(
            Set("base", Record("aaa", Benchmark(Id, Samples(100, 15, seed: 44), allocated: before, categories: SuiteCategories.CrossThread))),
            Set("diff", Record("bbb", Benchmark(Id, Samples(100, 15, seed: 45), allocated: after, categories: SuiteCategories.CrossThread))));
        Assert.True(Assert.Single(report.Benchmarks).AllocationIncreased);
        Assert.Equal(fails ? 1 : 0, report.ExitCode);
    }

    [Theory]
    [InlineData(new long[] { 4, 0, 7, 0, 0 }, new long[] { 5, 7, 0, 5, 0 }, false)] // medians 0 -> 5: the launches overlap (seen in a real run)
    [InlineData(new long[] { 0, 0, 0, 0, 0 }, new long[] { 8, 8, 8, 8, 8 }, true)]  // a new allocation per operation, in every launch
    [InlineData(new long[] { 0, 6, 0, 4, 0 }, new long[] { 24, 30, 28, 24, 26 }, true)]
    public void A_cross_thread_allocation_increase_fails_only_when_every_diff_launch_allocates_more_than_every_base_launch(long[] before, long[] after, bool fails)
    {
        var report = Comparer.Compare(
            Set("base", before.Select((bytes, i) => Record("aaa", Benchmark(Id, Samples(100, 15, seed: 60 + i), allocated: bytes, categories: SuiteCategories.CrossThread))).ToArray()),
            Set("diff", after.Select((bytes, i) => Record("bbb", Benchmark(Id, Samples(100, 15, seed: 70 + i), allocated: bytes, categories: SuiteCategories.CrossThread))).ToArray()));
        var result = Assert.Single(report.Benchmarks);
        Assert.True(result.AllocationIncreased);
        Assert.Equal(fails, result.AllocationRegressed);
        Assert.Equal(fails ? 1 : 0, report.ExitCode);
    }
}
