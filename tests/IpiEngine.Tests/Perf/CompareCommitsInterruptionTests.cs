using IpiEngine.Cli;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using IpiEngine.Tests.Perf.Interleave;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// Ctrl-C during <c>ipi perf compare-commits</c>: its rounds take up to 15 minutes, so the first signal lets the round
/// in progress finish and compares the rounds that did, instead of losing them all. A real round of two worker
/// processes per side, with this test assembly as the suite (<see cref="FakeSuite"/>).
/// </summary>
public sealed class CompareCommitsInterruptionTests
{
    private static readonly string Suite = typeof(FakeSuite).Assembly.Location;

    [Fact]
    public void A_stop_ends_the_rounds_after_the_one_in_progress_and_keeps_what_finished()
    {
        var (outcome, log, asked) = RunThreeRounds(stopAfterRound: 1);

        Assert.True(outcome.Interrupted, log);
        Assert.Equal(1, outcome.RoundsRun);
        Assert.Equal(3, outcome.RoundsPlanned);
        Assert.Single(outcome.B.Records);
        Assert.Single(outcome.A.Records[0].Benchmarks);
        Assert.Equal(1, asked); // asked once, before round 2, which did not start
        Assert.DoesNotContain("round 2 of", log, StringComparison.Ordinal);
        Assert.Contains("stopped at the user's request after round 1 of 3", log, StringComparison.Ordinal);
        Assert.Equal("the run was interrupted after round 1 of the 3 planned", outcome.Rounds[^1]);
        Assert.Equal(
            "interrupted: 1 of the 3 planned round(s) finished, and the comparison above stands on those alone; exit 130, not the verdict's code",
            PerfCompareCommitsCommand.InterruptedLine(outcome));
    }

    [Fact]
    public void Without_a_stop_every_planned_round_runs_and_nothing_says_interrupted()
    {
        var (outcome, log, asked) = RunThreeRounds(stopAfterRound: null, rounds: 2);

        Assert.False(outcome.Interrupted, log);
        Assert.Equal(2, outcome.RoundsRun);
        Assert.Equal(2, outcome.A.Records.Count);
        Assert.Equal(1, asked); // before round 2 only: after the last round there is nothing to stop
        Assert.DoesNotContain("interrupted", string.Join("\n", outcome.Rounds), StringComparison.Ordinal);
    }

    [Fact]
    public void In_launch_mode_a_launch_that_fails_after_a_stop_leaves_its_round_out_and_one_that_fails_without_one_still_throws()
    {
        // A suite that is not there makes the launch fail at once, as a BenchmarkDotNet process killed by the
        // terminal's Ctrl-C does: after a stop the round is left out; without one the failure is the user's to see.
        var scratch = Directory.CreateTempSubdirectory("ipi-compare-interrupt-");
        var commit = new CommitInfo { Sha = new string('a', 40) };
        var log = new StringWriter();
        var missing = new SuiteRunner(scratch.FullName, log, Path.Combine(scratch.FullName, "missing.dll"));
        using var builds = new AlternatingRunner.Builds(scratch, commit, commit, missing, missing, TimeSpan.Zero, "A", "B");
        var runner = new AlternatingRunner(GitRepository.Open(AppContext.BaseDirectory), log);
        var settings = new AlternatingRunner.Settings { Mode = AlternatingRunner.RoundMode.Launches, Rounds = 2 };

        var outcome = runner.Run(builds, settings with { StopRequested = () => true }, TimeSpan.Zero);

        Assert.True(outcome.Interrupted);
        Assert.Equal(0, outcome.RoundsRun);
        Assert.Empty(outcome.B.Records);
        Assert.Equal("the run was interrupted after round 0 of the 2 planned", outcome.Rounds[^1]);
        Assert.Contains("stopped at the user's request during round 1 of 2", log.ToString(), StringComparison.Ordinal);
        Assert.Throws<PerfInputException>(() => runner.Run(builds, settings, TimeSpan.Zero));
    }

    /// <summary>
    /// Review (s41): after Ctrl-C the process exited 130 but the JSON report's <c>exitCode</c> was the verdict's, so a
    /// script reading the document and one reading the exit status disagreed. Both say 130 now, and the document says why.
    /// </summary>
    [Fact]
    public void A_stopped_run_s_json_gives_the_exit_code_the_process_exits_with()
    {
        const string Id = "IpiEngine.Benchmarks.Apic.R.Steady(Case: A)";
        var a = SyntheticRecords.Set("A", SyntheticRecords.Interleaved("aaaaaaaaaaaa", 1, Id, [100.0, 100, 100, 100]));
        var b = SyntheticRecords.Set("B", SyntheticRecords.Interleaved("aaaaaaaaaaaa", 1, Id, [100.0, 100, 100, 100]));
        var stopped = new AlternatingRunner.Outcome(a, b, ["the run was interrupted after round 1 of the 3 planned"], Interrupted: true, RoundsPlanned: 3);
        var comparer = new RunComparer(new ComparisonOptions { Unit = ComparisonUnit.Launch });

        var (exit, json, error) = Report(stopped);

        Assert.Equal(130, exit);
        Assert.Equal("NotEnoughEvidence", json.GetProperty("verdict").GetString()); // one round: the verdict's code is 3
        Assert.Equal(130, json.GetProperty("exitCode").GetInt32()); // was 3
        Assert.Equal(1, json.GetProperty("interrupted").GetProperty("roundsRun").GetInt32());
        Assert.Equal(3, json.GetProperty("interrupted").GetProperty("roundsPlanned").GetInt32());
        Assert.Contains("interrupted: 1 of the 3 planned round(s) finished", error, StringComparison.Ordinal);
        // Review (s42): the verdict line still ended "(exit 3)", the verdict's own code, beside an exitCode of 130.
        var line = json.GetProperty("verdictLine").GetString()!;
        Assert.StartsWith("verdict: NOT ENOUGH EVIDENCE", line, StringComparison.Ordinal);
        Assert.EndsWith("; interrupted after 1 of the 3 planned round(s), the verdict's own code is 3 (exit 130)", line, StringComparison.Ordinal);

        var (wholeExit, whole, _) = Report(stopped with { Interrupted = false, RoundsPlanned = 1 });
        Assert.Equal(3, wholeExit);
        Assert.Equal(3, whole.GetProperty("exitCode").GetInt32());
        Assert.False(whole.TryGetProperty("interrupted", out _));
        Assert.EndsWith("(exit 3)", whole.GetProperty("verdictLine").GetString(), StringComparison.Ordinal);

        // Benchmarks a round could not run (no fresh diff worker started) are named in the verdict, which keeps its code.
        var (shortExit, shortJson, _) = Report(stopped with { Interrupted = false, RoundsPlanned = 1, NotRun = ["round 1: X.Later"] });
        Assert.Equal(3, shortExit);
        Assert.EndsWith("; 1 benchmark run(s) not run on either side, no fresh diff worker could start (round 1: X.Later) (exit 3)",
            shortJson.GetProperty("verdictLine").GetString(), StringComparison.Ordinal);

        (int Exit, System.Text.Json.JsonElement Json, string Error) Report(AlternatingRunner.Outcome outcome)
        {
            var output = new StringWriter();
            var errors = new StringWriter();
            int code = PerfCompareCommitsCommand.Report(outcome, comparer, "json", output, errors);
            return (code, System.Text.Json.JsonDocument.Parse(output.ToString()).RootElement.Clone(), errors.ToString());
        }
    }

    private static (AlternatingRunner.Outcome Outcome, string Log, int Asked) RunThreeRounds(int? stopAfterRound, int rounds = 3)
    {
        var log = new StringWriter();
        var scratch = Directory.CreateTempSubdirectory("ipi-compare-interrupt-");
        var commit = new CommitInfo { Sha = new string('a', 40) };
        var suite = new SuiteRunner(scratch.FullName, log, Suite);
        int asked = 0;
        using var builds = new AlternatingRunner.Builds(scratch, commit, commit, suite, suite, TimeSpan.Zero, "A", "B");
        var runner = new AlternatingRunner(GitRepository.Open(AppContext.BaseDirectory), log);
        var settings = new AlternatingRunner.Settings
        {
            Filters = ["*FakeSuite.Spin(Work: 3, Kind: Plain)"],
            Rounds = rounds,
            WorkerCommand = PerfWorkerCommand.CommandLine(),
            StopRequested = () =>
            {
                asked++; // the stop is asked before every round but the first: after round k it is the k-th question
                return stopAfterRound is { } stop && asked >= stop;
            },
        };
        var outcome = runner.Run(builds, settings, TimeSpan.Zero);
        return (outcome, log.ToString(), asked);
    }
}
