using IpiEngine.Perf.Calibration;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// Which CPU a single-threaded case of <c>compare-commits</c> runs on: the one whose spin loop's slow chunks are clearly
/// quicker, otherwise the caller's alternation.
/// </summary>
public class CpuSteadinessTests
{
    [Theory]
    // The readings of 2026-12-04 (far): CPU 0's 90th-percentile chunk 61.6-91.7 µs, CPU 1's 38.2-49.5 µs.
    [InlineData(91.7, 49.5, 0, 1, false)]
    [InlineData(38.2, 61.6, 1, 0, false)]
    // Within 5% of each other: a close call, the tie-break decides (either way).
    [InlineData(40.0, 41.0, 1, 1, true)]
    [InlineData(41.0, 40.0, 0, 0, true)]
    // A CPU that could not be pinned gives no reading: the tie-break decides.
    [InlineData(double.NaN, 40.0, 0, 0, true)]
    [InlineData(40.0, double.NaN, 1, 1, true)]
    public void The_cpu_with_clearly_quicker_slow_chunks_is_chosen_and_a_close_call_goes_to_the_tie_break(
        double firstSlowChunk, double secondSlowChunk, int tieBreak, int expected, bool tie)
    {
        Assert.Equal((expected, tie), CpuSteadiness.Pick(0, firstSlowChunk, 1, secondSlowChunk, tieBreak));
    }

    [Fact]
    public void A_reading_is_a_chunk_time_on_a_cpu_this_process_may_use_and_none_on_one_it_may_not()
    {
        var allowed = ThreadAffinity.TwoAllowedCpus();
        Assert.SkipWhen(allowed is null, "Pinning needs Linux and two CPUs.");
        var cpus = allowed!.Value;
        int[] before = ThreadAffinity.AllowedCpus();
        double reading = CpuSteadiness.SlowChunkMicroseconds(cpus.Second);
        Assert.True(double.IsFinite(reading) && reading > 0, $"reading {reading} µs");
        // The thread gets its CPUs back.
        Assert.Equal(before, ThreadAffinity.AllowedCpus());
        Assert.True(double.IsNaN(CpuSteadiness.SlowChunkMicroseconds(64)));
        var (cpu, _) = CpuSteadiness.Choose(cpus.First, cpus.Second, tieBreak: cpus.First);
        Assert.Contains(cpu, (int[])[cpus.First, cpus.Second]);
    }
}
