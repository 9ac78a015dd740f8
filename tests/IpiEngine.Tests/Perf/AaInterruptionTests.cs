using IpiEngine.Cli;
using IpiEngine.Cli.Run;
using IpiEngine.Perf.Comparison;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// Ctrl-C during <c>ipi perf aa</c>: a series takes hours, so the first signal lets the run in progress finish and
/// reports the runs that did (exit 130), and a second one is left to end the process at once.
/// </summary>
public class AaInterruptionTests
{
    [Fact]
    public void A_stop_lets_the_run_in_progress_finish_and_starts_no_other()
    {
        bool stop = false;
        var ran = new List<int>();
        var shown = new List<int>();

        var reports = PerfAaCommand.RunSeries(5, () => stop, run =>
        {
            ran.Add(run);
            stop |= run == 2; // Ctrl-C arrives during the second run
            return LaunchPlanningTests.Report(Verdict.Pass, TimeOutcome.Same);
        }, (run, _) => shown.Add(run));

        Assert.Equal(new[] { 1, 2 }, ran);
        Assert.Equal(new[] { 1, 2 }, shown); // the interrupted run is still shown
        Assert.Equal(2, reports.Count);
    }

    [Fact]
    public void Without_a_stop_every_planned_run_runs()
    {
        var reports = PerfAaCommand.RunSeries(3, () => false, _ => LaunchPlanningTests.Report(Verdict.Pass, TimeOutcome.Same), (_, _) => { });
        Assert.Equal(3, reports.Count);
    }

    [Fact]
    public void An_interrupted_series_says_how_many_of_its_planned_runs_finished()
    {
        var reports = new[] { LaunchPlanningTests.Report(Verdict.Pass, TimeOutcome.Same), LaunchPlanningTests.Report(Verdict.Pass, TimeOutcome.Faster) };

        var interrupted = VerdictRates.From("abc", separateBuilds: false, slowdown: 0, reports, planned: 20);
        Assert.True(interrupted.Interrupted);
        Assert.Equal(20, interrupted.RunsPlanned);
        Assert.Contains("A/A false verdicts: 1 of 2 run(s) (50%)", interrupted.SummaryLine, StringComparison.Ordinal);
        Assert.EndsWith("; interrupted: 2 of the 20 planned run(s) finished", interrupted.SummaryLine, StringComparison.Ordinal);
        string json = VerdictRatesJson.Serialize(interrupted);
        Assert.Contains("\"interrupted\": true", json, StringComparison.Ordinal);
        Assert.Contains("\"runsPlanned\": 20", json, StringComparison.Ordinal);

        var slowed = VerdictRates.From("abc", separateBuilds: false, slowdown: 0.1, reports, planned: 10);
        Assert.EndsWith("; interrupted: 2 of the 10 planned run(s) finished", slowed.SummaryLine, StringComparison.Ordinal);

        var complete = VerdictRates.From("abc", separateBuilds: false, slowdown: 0, reports, planned: 2);
        Assert.False(complete.Interrupted);
        Assert.DoesNotContain("interrupted", complete.SummaryLine, StringComparison.Ordinal);
        Assert.False(VerdictRates.From("abc", separateBuilds: false, slowdown: 0, reports).Interrupted);
    }

    [Fact]
    public void With_a_second_signal_ending_the_process_only_the_first_is_intercepted_and_announced()
    {
        int notices = 0;
        using var interruption = new RunInterruption(secondSignalEnds: true, onRequest: () => notices++);

        Assert.False(interruption.Requested);
        Assert.True(interruption.Intercept()); // the first: keep the process alive
        Assert.True(interruption.Requested);
        Assert.False(interruption.Intercept()); // the second: let it end the process
        Assert.Equal(1, notices);
    }

    [Fact]
    public void By_default_every_signal_is_intercepted_so_the_run_drains_and_reports()
    {
        using var interruption = new RunInterruption();

        Assert.True(interruption.Intercept());
        Assert.True(interruption.Intercept());
        Assert.True(interruption.Requested);
    }
}
