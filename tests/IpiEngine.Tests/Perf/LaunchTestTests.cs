using IpiEngine.Perf;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>The launch-level statistics of <c>compare-commits</c> on synthetic launch medians (seeded: no flakiness).</summary>
public sealed class LaunchTestTests
{
    private static readonly PracticalThreshold SingleThreaded = new(0.05, 0.25);
    private static readonly LaunchTest Test = new(alpha: 0.01);

    /// <summary><paramref name="count"/> launch medians around <paramref name="center"/>, ±2% uniform, all in <paramref name="state"/>.</summary>
    private static List<LaunchObservation> Launches(double center, int count, int seed, CoreDistanceState state = CoreDistanceState.Near)
    {
        var random = new Random(seed);
        var launches = new List<LaunchObservation>(count);
        for (int i = 0; i < count; i++)
        {
            launches.Add(new LaunchObservation(center * (1 + ((random.NextDouble() - 0.5) * 0.04)), state));
        }
        return launches;
    }

    [Fact]
    public void Identical_distributions_with_one_outlier_launch_are_the_same()
    {
        var baseLaunches = Launches(100, 8, seed: 1);
        var diffLaunches = Launches(100, 8, seed: 2);
        // One launch placed badly: twice as slow (the "one of its two launches ran slow").
        diffLaunches[3] = diffLaunches[3] with { MedianNs = 200 };
        var finding = Test.Compare(baseLaunches, diffLaunches, SingleThreaded);
        Assert.Equal(TimeOutcome.Same, finding.Outcome);
        Assert.True(finding.EstimatedRatio is > 0.97 and < 1.03, $"estimate {finding.EstimatedRatio}");
        Assert.Contains("same", finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_real_10_percent_shift_over_8_launches_per_side_is_slower()
    {
        var finding = Test.Compare(Launches(100, 8, seed: 3), Launches(110, 8, seed: 4), SingleThreaded);
        Assert.Equal(TimeOutcome.Slower, finding.Outcome);
        Assert.True(finding.PSlower <= 0.01, $"p {finding.PSlower}");
        Assert.InRange(finding.EstimatedRatio, 1.07, 1.13);
        Assert.Contains("slower", finding.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0002)] // 4,000 relabellings could not go below 1 / 4,001 = 2.5e-4: slower was out of reach
    [InlineData(0.0001)]
    public void A_strict_alpha_can_still_be_reached_by_a_clear_slowdown(double alpha)
    {
        var finding = new LaunchTest(alpha).Compare(Launches(100, 12, seed: 13), Launches(200, 12, seed: 14), SingleThreaded);

        Assert.Equal(TimeOutcome.Slower, finding.Outcome);
        Assert.True(finding.PSlower <= alpha, $"p {finding.PSlower}");
    }

    [Fact]
    public void A_real_20_percent_speedup_is_faster()
    {
        var finding = Test.Compare(Launches(100, 8, seed: 5), Launches(80, 8, seed: 6), SingleThreaded);
        Assert.Equal(TimeOutcome.Faster, finding.Outcome);
    }

    [Fact]
    public void Three_launches_per_side_are_not_enough_evidence_even_for_a_30_percent_shift_and_say_how_many_more_rounds()
    {
        var finding = Test.Compare(Launches(100, 3, seed: 7), Launches(130, 3, seed: 8), SingleThreaded);
        Assert.Equal(TimeOutcome.NotEnoughEvidence, finding.Outcome);
        Assert.NotNull(finding.MoreRounds);
        Assert.True(finding.MoreRounds >= Test.MinimumLaunches - 3, $"more rounds {finding.MoreRounds}");
        Assert.Contains("more round", finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shift_right_at_the_threshold_is_not_enough_evidence_rather_than_a_guess()
    {
        var finding = Test.Compare(Launches(100, 8, seed: 9), Launches(105, 8, seed: 10), SingleThreaded);
        Assert.Equal(TimeOutcome.NotEnoughEvidence, finding.Outcome);
        Assert.Contains("not enough evidence", finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Launches_whose_state_changed_are_left_out_and_counted()
    {
        var baseLaunches = Launches(100, 8, seed: 11);
        var diffLaunches = Launches(100, 8, seed: 12);
        // Three diff launches during which the cores moved apart: far slower, and they must not count.
        diffLaunches.AddRange(Launches(300, 3, seed: 13, CoreDistanceState.Mixed));
        var finding = Test.Compare(baseLaunches, diffLaunches, SingleThreaded);
        Assert.Equal(TimeOutcome.Same, finding.Outcome);
        Assert.Equal(3, finding.LeftOut);
        Assert.Equal(8, finding.DiffUsed);
        Assert.Contains("left out", finding.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_single_threaded_benchmark_measured_near_on_one_side_and_far_on_the_other_is_never_slower()
    {
        // The false alarm: the same code, 4.9 ns near and 6.9 ns far.
        var finding = Test.Compare(Launches(4.9, 8, seed: 14, CoreDistanceState.Near), Launches(6.9, 8, seed: 15, CoreDistanceState.Far), SingleThreaded);
        Assert.Equal(TimeOutcome.NotEnoughEvidence, finding.Outcome);
        Assert.Equal(16, finding.LeftOut);
    }

    [Fact]
    public void States_are_compared_within_themselves_so_a_state_mix_on_both_sides_is_the_same()
    {
        var baseLaunches = Launches(100, 5, seed: 16, CoreDistanceState.Near);
        baseLaunches.AddRange(Launches(300, 3, seed: 17, CoreDistanceState.Far));
        var diffLaunches = Launches(100, 3, seed: 18, CoreDistanceState.Near);
        diffLaunches.AddRange(Launches(300, 5, seed: 19, CoreDistanceState.Far));
        var finding = Test.Compare(baseLaunches, diffLaunches, SingleThreaded);
        Assert.Equal(TimeOutcome.Same, finding.Outcome);
        Assert.Equal("near 5+3, far 3+5", finding.States);
    }

    [Fact]
    public void A_real_slowdown_is_found_within_states_even_when_the_sides_saw_different_state_mixes()
    {
        var baseLaunches = Launches(100, 6, seed: 20, CoreDistanceState.Near);
        baseLaunches.AddRange(Launches(300, 4, seed: 21, CoreDistanceState.Far));
        var diffLaunches = Launches(112, 4, seed: 22, CoreDistanceState.Near);
        diffLaunches.AddRange(Launches(336, 6, seed: 23, CoreDistanceState.Far));
        Assert.Equal(TimeOutcome.Slower, Test.Compare(baseLaunches, diffLaunches, SingleThreaded).Outcome);
    }

    [Fact]
    public void The_absolute_floor_wins_over_the_relative_threshold_for_tiny_times()
    {
        // 2.0 ns against 2.3 ns is 15%, but under a 0.5 ns floor it is no change.
        var finding = Test.Compare(Launches(2.0, 8, seed: 24), Launches(2.3, 8, seed: 25), new PracticalThreshold(0.05, 0.5));
        Assert.NotEqual(TimeOutcome.Slower, finding.Outcome);
        Assert.InRange(finding.ThresholdRelative, 0.24, 0.26);
    }

    [Fact]
    public void The_verdict_is_the_same_every_time_for_the_same_launches()
    {
        var baseLaunches = Launches(100, 6, seed: 26);
        var diffLaunches = Launches(104, 6, seed: 27);
        var first = Test.Compare(baseLaunches, diffLaunches, SingleThreaded);
        var second = Test.Compare(baseLaunches, diffLaunches, SingleThreaded);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Five_launches_per_side_is_the_least_that_can_reach_alpha_0_01()
    {
        Assert.Equal(5, Test.MinimumLaunches);
        Assert.Throws<PerfInputException>(() => new LaunchTest(alpha: 0.7));
    }

    [Theory]
    [InlineData(0.95, 1.6449)]
    [InlineData(0.99, 2.3263)]
    [InlineData(0.999, 3.0902)]
    public void The_normal_quantile_behind_the_rounds_advice_is_right(double p, double z) =>
        Assert.Equal(z, LaunchTest.NormalQuantile(p), precision: 3);

    [Theory]
    [InlineData("5%", "0.25ns", 0.05, 0.25)]
    [InlineData("12%", "2 ns", 0.12, 2)]
    [InlineData("10%", "1us", 0.10, 1000)]
    public void Thresholds_parse_percent_and_time(string relative, string absolute, double expectedRelative, double expectedNs)
    {
        var threshold = PracticalThreshold.Parse(relative, absolute, "--threshold", "--noise");
        Assert.Equal(expectedRelative, threshold.Relative, precision: 9);
        Assert.Equal(expectedNs, threshold.AbsoluteNs, precision: 9);
    }

    [Theory]
    [InlineData("5", "1ns")]
    [InlineData("150%", "1ns")]
    [InlineData("5%", "fast")]
    [InlineData("5%", "-1ns")]
    public void Bad_thresholds_are_one_sentence(string relative, string absolute)
    {
        var error = Assert.Throws<PerfInputException>(() => PracticalThreshold.Parse(relative, absolute, "--threshold", "--noise"));
        Assert.DoesNotContain('\n', error.Message);
    }
}
