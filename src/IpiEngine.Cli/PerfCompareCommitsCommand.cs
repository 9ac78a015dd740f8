using System.CommandLine;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf compare-commits A B</c>: builds both commits in temporary clones, runs launches of
/// their suites alternately (A B, B A, ...) with the probe around every benchmark, and compares
/// them launch by launch (<see cref="ComparisonUnit.Launch"/>). The command to run before merging.
/// Exit 0 pass, 1 regression, 2 not comparable or bad input, 3 not enough evidence, 4 the tool itself failed (no verdict), 130 when Ctrl-C ended the rounds
/// early: the first Ctrl-C (or SIGTERM) lets the round in progress finish and compares the rounds that did; a second
/// ends the process at once.
/// </summary>
internal static class PerfCompareCommitsCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var a = new Argument<string>("A") { Description = "Baseline commit (sha, branch, tag)." };
        var b = new Argument<string>("B") { Description = "Commit under test." };
        var launches = new LaunchRunOptions();
        var save = new Option<bool>("--save") { Description = "Also store every launch's record in the results folder." };
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var policy = new PolicyOptions(byLaunch: true);
        var command = new Command("compare-commits", "Build two commits, run launches of their benchmarks alternately, and compare them launch by launch.")
        {
            a, b, save, results, repo,
        };
        launches.AddTo(command);
        policy.AddTo(command);
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, error) =>
        {
            // Everything the user typed is checked before the first (long) build.
            var format = PerfComparisonPrinter.Validate(parse.GetValue(policy.Format));
            var comparer = new RunComparer(policy.Read(parse));
            var settings = launches.Read(parse, comparer);
            var git = GitRepository.Open(parse.GetValue(repo) ?? Environment.CurrentDirectory);
            var store = parse.GetValue(save) ? new RecordStore(PerfCommand.ResultsFolder(parse.GetValue(results), git)) : null;
            store?.EnsureWritable(); // the rounds' records must have somewhere to go before the rounds run
            var runner = new AlternatingRunner(git, error);
            using var builds = runner.Build(parse.GetValue(a)!, parse.GetValue(b)!, parse.GetValue(launches.SeparateBuilds));
            // From here a first Ctrl-C still yields a comparison of the finished rounds (while building there is none: it ends at once).
            using var interruption = Run.RunInterruption.AfterStep(error, "round", "comparing the rounds that finished");
            var outcome = runner.Run(builds, settings with { StopRequested = () => interruption.Requested }, builds.BuildTime);
            if (store is not null)
            {
                foreach (var record in outcome.A.Records.Concat(outcome.B.Records))
                {
                    error.WriteLine($"saved {store.Save(record)}");
                }
            }
            return Report(outcome, comparer, format, output, error);
        }));
        return command;
    }

    /// <summary>
    /// Prints the round lines and the comparison of <paramref name="outcome"/>'s rounds in <paramref name="format"/>, and
    /// returns the exit code: the verdict's, or 130 when Ctrl-C ended the rounds early, the same code the report's own
    /// <c>exitCode</c> gives.
    /// </summary>
    internal static int Report(AlternatingRunner.Outcome outcome, RunComparer comparer, string format, TextWriter output, TextWriter error)
    {
        // Round lines go with the text; JSON and Markdown stay one document on stdout.
        var roundLog = format == "text" ? output : error;
        foreach (var line in outcome.Rounds)
        {
            roundLog.WriteLine(line);
        }
        var report = comparer.Compare(outcome.A, outcome.B);
        if (outcome.NotRun is { Count: > 0 } notRun)
        {
            report = report with { VerdictLine = WithClause(report.VerdictLine,
                $"; {notRun.Count} benchmark run(s) not run on either side, no fresh diff worker could start ({string.Join(", ", notRun)})", report.ExitCode) };
        }
        if (outcome.Interrupted)
        {
            report = report with
            {
                Interrupted = new RoundsInterrupted(outcome.RoundsRun, outcome.RoundsPlanned, Run.RunInterruption.InterruptedExitCode),
                // The line ends with the code the process exits with, as the report's exitCode does.
                VerdictLine = WithClause(report.VerdictLine, $"; interrupted after {outcome.RoundsRun} of the {outcome.RoundsPlanned} planned round(s), the verdict's own code is {report.ExitCode}",
                    Run.RunInterruption.InterruptedExitCode),
            };
        }
        PerfComparisonPrinter.Print(report, format, output);
        if (outcome.Interrupted)
        {
            // After the report, so that a reader of the text sees it last; on stderr when stdout is one document.
            (format == "text" ? output : error).WriteLine(InterruptedLine(outcome));
        }
        return report.ExitCode;
    }

    /// <summary><paramref name="verdictLine"/> with <paramref name="clause"/> added and its closing <c>(exit N)</c> saying <paramref name="exitCode"/>.</summary>
    private static string WithClause(string verdictLine, string clause, int exitCode)
    {
        int exit = verdictLine.LastIndexOf(" (exit ", StringComparison.Ordinal);
        return $"{(exit < 0 ? verdictLine : verdictLine[..exit])}{clause} (exit {exitCode})";
    }

    /// <summary>What a run that Ctrl-C ended early says after its report.</summary>
    internal static string InterruptedLine(AlternatingRunner.Outcome outcome) =>
        $"interrupted: {outcome.RoundsRun} of the {outcome.RoundsPlanned} planned round(s) finished, and the comparison above stands on those alone; exit {Run.RunInterruption.InterruptedExitCode}, not the verdict's code";
}
