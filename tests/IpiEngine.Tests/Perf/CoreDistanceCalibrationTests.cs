using IpiEngine.Perf.Calibration;
using Xunit;

namespace IpiEngine.Tests.Perf;

public class CoreDistanceCalibrationTests
{
    [Theory]
    [InlineData(55.0, CoreDistanceState.Near)]
    [InlineData(149.9, CoreDistanceState.Near)]
    [InlineData(150.0, CoreDistanceState.Far)]
    [InlineData(350.0, CoreDistanceState.Far)]
    public void One_reading_is_near_below_150_ns_and_far_from_there(double ns, CoreDistanceState expected) =>
        Assert.Equal(expected, CoreDistanceThresholds.Default.Classify(ns));

    [Fact]
    public void A_benchmark_is_mixed_when_its_two_readings_disagree_and_unknown_when_one_is_missing()
    {
        var thresholds = CoreDistanceThresholds.Default;
        Assert.Equal(CoreDistanceState.Near, thresholds.Classify(55, 60));
        Assert.Equal(CoreDistanceState.Far, thresholds.Classify(340, 360));
        Assert.Equal(CoreDistanceState.Mixed, thresholds.Classify(55, 350));
        Assert.Equal(CoreDistanceState.Mixed, thresholds.Classify(350, 55));
        Assert.Equal(CoreDistanceState.Unknown, thresholds.Classify(null, 55));
        Assert.Equal(CoreDistanceState.Unknown, thresholds.Classify(55, null));
    }

    [Fact]
    public void Thresholds_written_in_a_record_are_the_ones_used()
    {
        var strict = new CoreDistanceThresholds { NearBelowNs = 40 };
        Assert.Equal(CoreDistanceState.Far, strict.Classify(55));
    }

    [Fact]
    public void The_probe_either_measures_a_round_trip_or_says_why_not_within_its_budget()
    {
        var probe = new CoreDistanceProbe { RoundTripsPerSample = 2_000, SampleCount = 5, TimeBudget = TimeSpan.FromMilliseconds(500) };
        var started = DateTimeOffset.UtcNow;
        var reading = probe.Measure();
        // Bounded: the budget plus thread start-up, never a hang (generous bound, not a timing assertion on the result).
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(30));
        if (reading.RoundTripNs is { } ns)
        {
            // A reading: every sample taken, a plausible cache-line round trip (above 1 ns, below 1 ms), no problem.
            Assert.InRange(ns, 1.0, 1_000_000.0);
            Assert.Equal(5, reading.Samples);
            Assert.Null(reading.Problem);
        }
        else if (Environment.ProcessorCount < 2)
        {
            Assert.Equal("fewer than two logical CPUs", reading.Problem);
        }
        else
        {
            // The only other reason the probe gives: its budget ran out before the samples were taken.
            Assert.Equal("the probe did not finish within 500 ms (are both cores busy?)", reading.Problem);
            Assert.InRange(reading.Samples, 0, 4);
        }
    }
}
