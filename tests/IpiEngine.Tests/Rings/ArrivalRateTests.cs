using System.Diagnostics;
using IpiEngine.Stages;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>
/// The gathering thread's streaming test (<see cref="ArrivalRate"/>): a thin pass spins before the next only while
/// records arrive at 16 or more a microsecond, judged once per window of passes; a closed loop or a paced load, far
/// slower, never makes it spin.
/// </summary>
public class ArrivalRateTests
{
    [Fact]
    public void A_window_of_many_records_in_little_time_streams()
    {
        var rate = new ArrivalRate(Stopwatch.GetTimestamp());
        for (int pass = 1; pass < ArrivalRate.WindowPasses; pass++)
        {
            Assert.False(rate.Count(10_000)); // nothing is judged before the window ends
        }

        Assert.True(rate.Count(10_000)); // 640,000 records in far less than 40 ms
    }

    [Fact]
    public void A_window_of_few_records_over_a_long_time_does_not_stream()
    {
        var rate = new ArrivalRate(Stopwatch.GetTimestamp() - Stopwatch.Frequency); // the window opened a second ago
        bool streaming = false;
        for (int pass = 0; pass < ArrivalRate.WindowPasses; pass++)
        {
            streaming = rate.Count(1_000); // 64,000 records a second: a closed loop's pace
        }

        Assert.False(streaming);
    }

    [Fact]
    public void A_window_of_empty_passes_does_not_stream_and_the_judgement_lasts_one_window()
    {
        var rate = new ArrivalRate(Stopwatch.GetTimestamp());
        for (int pass = 0; pass < ArrivalRate.WindowPasses; pass++)
        {
            rate.Count(10_000);
        }

        for (int pass = 1; pass < ArrivalRate.WindowPasses; pass++)
        {
            Assert.True(rate.Count(0)); // still the last window's judgement
        }

        Assert.False(rate.Count(0)); // a window of nothing
    }
}
