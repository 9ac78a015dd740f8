using System.Text.Json;
using IpiEngine.Cli;
using IpiEngine.Cli.Machine;
using IpiEngine.Tests.Run;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary><c>ipi perf stalls</c>: the gap detection, the phase figures, and the command's output and refusals.</summary>
public class PerfStallsTests
{
    /// <summary>A clock that returns the given readings in turn, then stays at the last.</summary>
    private struct ScriptedClock(long[] readings) : StallMeter.IClock
    {
        private int _next;

        public long Now() => readings[Math.Min(_next++, readings.Length - 1)];
    }

    [Fact]
    public void A_read_a_threshold_or_more_after_the_previous_one_is_a_gap_cut_at_the_window_end()
    {
        var clock = new ScriptedClock([101, 102, 103, 200, 201, 209, 210, 400]);
        var log = new GapLog(16);

        StallMeter.Watch(ref clock, log, startAt: 100, endAt: 300, thresholdTicks: 10);

        // 103 -> 200 (97 ticks) is a gap; 201 -> 209 (8) and 209 -> 210 (1) are not; 210 -> 400 ends the window at 300.
        Assert.Equal([(103L, 200L), (210L, 300L)], log.Gaps);
        Assert.Equal(0, log.NotKept);
    }

    [Fact]
    public void A_full_log_counts_the_gaps_it_cannot_keep()
    {
        var clock = new ScriptedClock([110, 120, 130, 140, 150]);
        var log = new GapLog(2);

        StallMeter.Watch(ref clock, log, startAt: 100, endAt: 150, thresholdTicks: 10);

        Assert.Equal(2, log.Count);
        Assert.Equal(3, log.NotKept);
    }

    [Fact]
    public void A_phase_sums_its_threads_gaps_and_finds_the_time_all_were_stalled_at_once()
    {
        const long frequency = 1_000_000; // ticks are microseconds
        var first = new GapLog(8);
        first.Add(1_000, 3_000);      // 2 ms
        first.Add(10_000, 70_000);    // 60 ms: a long stall
        var second = new GapLog(8);
        second.Add(2_000, 4_000);     // 2 ms, 1 ms of it with the first thread's
        second.Add(20_000, 80_000);   // 60 ms, 50 ms of it with the first thread's

        var phase = StallMeter.Summarize(2, windowTicks: 1_000_000, [first, second], frequency);

        Assert.Equal(2, phase.BusyThreads);
        Assert.Equal(1.0, phase.Seconds, 9);
        Assert.Equal(4, phase.Gaps);
        Assert.Equal(124.0, phase.StalledMs, 9);
        Assert.Equal(100.0 * 124 / 2000, phase.StalledPercent, 9);
        Assert.Equal(60.0, phase.LongestMs, 9);
        Assert.Equal(2, phase.LongStalls);
        Assert.Equal(51.0, phase.AllStalledMs!.Value, 9);
        Assert.Equal(50.0, phase.AllStalledLongestMs!.Value, 9);
    }

    [Fact]
    public void One_thread_has_no_time_stalled_together()
    {
        var only = new GapLog(4);
        only.Add(0, 5_000);

        var phase = StallMeter.Summarize(1, windowTicks: 1_000_000, [only], 1_000_000);

        Assert.Equal(5.0, phase.StalledMs, 9);
        Assert.Equal(0.5, phase.StalledPercent, 9);
        Assert.Null(phase.AllStalledMs);
        Assert.Null(phase.AllStalledLongestMs);
    }

    [Fact]
    public void A_short_run_reports_one_phase_per_busy_count_with_consistent_figures()
    {
        var (code, output, error) = RunCli.Invoke("perf", "stalls", "--duration", "200ms", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("measuring with 1 busy thread for 0.2 s", error, StringComparison.Ordinal); // progress and text on stderr with --json -
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(1.0, root.GetProperty("thresholdMs").GetDouble(), 9);
        var expected = PerfStallsCommand.BusyCounts(null);
        var phases = root.GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(expected, phases.Select(p => p.GetProperty("busyThreads").GetInt32()));
        foreach (var phase in phases)
        {
            var threads = phase.GetProperty("busyThreads").GetInt32();
            var seconds = phase.GetProperty("seconds").GetDouble();
            Assert.InRange(seconds, 0.199, 0.201);
            var stalled = phase.GetProperty("stalledMs").GetDouble();
            Assert.InRange(stalled, 0, threads * seconds * 1000);
            Assert.Equal(100 * stalled / (threads * seconds * 1000), phase.GetProperty("stalledPercent").GetDouble(), tolerance: 1e-9); // a tolerance, not rounding: two values a hair apart can round to different digits
            Assert.InRange(phase.GetProperty("longestMs").GetDouble(), 0, stalled);
            Assert.InRange(phase.GetProperty("longStalls").GetInt64(), 0, phase.GetProperty("gaps").GetInt64());
            Assert.Equal(threads > 1, phase.GetProperty("allStalledMs").ValueKind == JsonValueKind.Number);
        }
    }

    [Theory]
    [InlineData("--busy", "0", "--busy must list whole numbers from 1 to")]
    [InlineData("--busy", "1,x", "--busy must list whole numbers from 1 to")]
    [InlineData("--busy", "4096", "--busy must list whole numbers from 1 to")]
    [InlineData("--threshold", "0", "--threshold must be a positive time")]
    [InlineData("--threshold", "5us", "--threshold must be from 10us to 1s, not '5us'.")]
    [InlineData("--threshold", "2s", "--threshold must be from 10us to 1s, not '2s'.")]
    [InlineData("--duration", "soon", "--duration must be a positive time")]
    public void Bad_input_is_one_sentence_and_exit_code_2(string option, string value, string start)
    {
        var (code, output, error) = RunCli.Invoke("perf", "stalls", option, value);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(start, error.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_threshold_in_microseconds_is_read_as_such()
    {
        var (code, output, error) = RunCli.Invoke("perf", "stalls", "--busy", "1", "--duration", "50ms", "--threshold", "250us", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        using var json = JsonDocument.Parse(output);
        Assert.Equal(0.25, json.RootElement.GetProperty("thresholdMs").GetDouble(), 9);
        Assert.Single(json.RootElement.GetProperty("phases").EnumerateArray());
    }
}
