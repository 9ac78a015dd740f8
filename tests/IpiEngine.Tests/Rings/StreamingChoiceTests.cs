using System.Diagnostics;
using IpiEngine.Posting;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>A source streams its long runs only after two timed plain copies in a row were slow, for a stretch, then tries plain again.</summary>
public class StreamingChoiceTests
{
    [Fact]
    public void Fast_plain_copies_never_stream_and_one_in_sixteen_is_timed()
    {
        var choice = default(StreamingChoice);
        var timed = 0;
        for (var run = 0; run < 10 * StreamingChoice.SampleEvery; run++)
        {
            Assert.False(choice.StreamNext());
            if (choice.TimeNextPlain())
            {
                timed++;
                choice.PlainCopyTook(Ticks(6 * 32), 64); // 64 records, 32 lines, 6 ns a line: near
            }
        }

        Assert.Equal(10, timed);
        Assert.False(choice.StreamNext());
    }

    [Fact]
    public void Two_slow_plain_copies_in_a_row_stream_a_stretch_then_the_next_plain_copy_is_timed_again()
    {
        var choice = default(StreamingChoice);
        Assert.False(choice.StreamNext());
        Assert.True(choice.TimeNextPlain()); // the first long run is timed

        choice.PlainCopyTook(Ticks(36 * 32), 64); // 36 ns a line: far, once
        Assert.False(choice.StreamNext());
        Assert.True(choice.TimeNextPlain()); // the next run is timed at once to confirm
        choice.PlainCopyTook(Ticks(36 * 32), 64); // far again

        for (var run = 0; run < StreamingChoice.StreamRuns; run++)
        {
            Assert.True(choice.StreamNext(), $"run {run} of the stretch was not streamed");
        }

        Assert.False(choice.StreamNext());
        Assert.True(choice.TimeNextPlain()); // the first plain run after the stretch is timed
        choice.PlainCopyTook(Ticks(5 * 32), 64); // near again
        Assert.False(choice.StreamNext());
    }

    [Fact]
    public void One_slow_copy_between_fast_ones_does_not_stream()
    {
        var choice = default(StreamingChoice);
        choice.PlainCopyTook(Ticks(36 * 32), 64); // slow once (a cold ring, an interrupt)
        choice.PlainCopyTook(Ticks(5 * 32), 64); // the confirmation is fast
        choice.PlainCopyTook(Ticks(36 * 32), 64); // slow once more: a new first

        Assert.False(choice.StreamNext());
    }

    [Fact]
    public void The_threshold_is_per_line()
    {
        var fast = default(StreamingChoice);
        fast.PlainCopyTook(Ticks((StreamingChoice.FarLineNanoseconds - 1) * 8), 16); // 16 records: 8 lines, under the threshold
        fast.PlainCopyTook(Ticks((StreamingChoice.FarLineNanoseconds - 1) * 8), 16);
        Assert.False(fast.StreamNext());

        var slow = default(StreamingChoice);
        slow.PlainCopyTook(Ticks((StreamingChoice.FarLineNanoseconds + 1) * 8), 16);
        slow.PlainCopyTook(Ticks((StreamingChoice.FarLineNanoseconds + 1) * 8), 16);
        Assert.True(slow.StreamNext());
    }

    private static long Ticks(double nanoseconds) => (long)(nanoseconds * Stopwatch.Frequency / 1e9);
}
