using System.CommandLine;
using System.Globalization;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf aa X --runs N</c>: runs N comparisons of commit X with itself (one build, or two with
/// <c>--separate-builds</c>) exactly as <c>compare-commits X X</c> would, and reports the
/// false-verdict rate. With <c>--slowdown 10%</c> B's instrumented benchmarks run that much slower
/// (<see cref="SuiteSlowdown"/>) and it reports the detection rate instead. The two rates are the
/// suite's specification (perf-results/README.md). Exit 0 when the series ran, 2 on bad input, 130 when Ctrl-C
/// stopped it early: the first Ctrl-C (or SIGTERM) lets the run in progress finish, then reports the runs that did;
/// a second ends the process at once.
/// </summary>
internal static class PerfAaCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var commit = new Argument<string>("X") { Description = "The commit to compare with itself (sha, branch, tag)." };
        var runs = new Option<int>("--runs") { Description = "Comparisons to run; Ctrl-C stops after the one in progress and reports those that finished.", DefaultValueFactory = _ => 20 };
        var slowdown = new Option<string?>("--slowdown")
        {
            Description = "Slow B's instrumented benchmarks (Resolution, Headline, FusedPass) by this much, e.g. 10%, and report the detection rate.",
        };
        var launches = new LaunchRunOptions();
        var repo = PerfCommand.RepoOption();
        var policy = new PolicyOptions(byLaunch: true);
        var command = new Command("aa", "Compare a commit with itself N times (A/A) and report the false-verdict rate; with --slowdown, the detection rate.")
        {
            commit, runs, slowdown, repo,
        };
        launches.AddTo(command);
        policy.AddTo(command);
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, error) =>
        {
            var format = PerfComparisonPrinter.Validate(parse.GetValue(policy.Format));
            var comparer = new RunComparer(policy.Read(parse));
            int count = parse.GetValue(runs);
            if (count is < 1 or > 1000)
            {
                throw new PerfInputException($"--runs must be between 1 and 1000, not {count}.");
            }
            var slowdownText = parse.GetValue(slowdown);
            double fraction = slowdownText is null ? 0 : SuiteSlowdown.Parse(slowdownText, "--slowdown");
            Dictionary<string, string>? environment = null, baseEnvironment = null;
            if (fraction > 0)
            {
                environment = new() { [SuiteSlowdown.EnvironmentVariable] = slowdownText!.Trim() };
                // A carries the same variable, switched off, so both sides read it alike (SuiteSlowdown.Unslowed).
                baseEnvironment = new() { [SuiteSlowdown.EnvironmentVariable] = SuiteSlowdown.Unslowed(slowdownText) };
            }
            var settings = launches.Read(parse, comparer, environment, baseEnvironment);
            bool separate = parse.GetValue(launches.SeparateBuilds);
            var git = GitRepository.Open(parse.GetValue(repo) ?? Environment.CurrentDirectory);
            var revision = parse.GetValue(commit)!;
            var runner = new AlternatingRunner(git, error);
            using var builds = runner.Build(revision, revision, separate);
            // From here a first Ctrl-C still yields a report (while building there is nothing to report: it ends at once).
            using var interruption = Run.RunInterruption.AfterStep(error, "run", "reporting the runs that finished");
            var seriesClock = System.Diagnostics.Stopwatch.StartNew();
            var reports = RunSeries(count, () => interruption.Requested, run =>
            {
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"A/A run {run} of {count}"));
                var outcome = runner.Run(builds, settings, builds.BuildTime);
                return comparer.Compare(outcome.A, outcome.B);
            }, (run, report) =>
            {
                var states = VerdictRates.RunOf(run, fraction, report);
                var line = string.Create(CultureInfo.InvariantCulture, $"run {run} of {count}: {report.VerdictLine}; {report.SummaryLine}; states {states}");
                // The run's line is the result (stdout); in JSON it goes with the progress, so stdout stays one document.
                var runLog = format == "json" ? error : output;
                runLog.WriteLine(line);
                // Every benchmark not called the same, with the verdict's reason: what a series is read for.
                foreach (var benchmark in report.Benchmarks.Where(b => b.Time != TimeOutcome.Same))
                {
                    runLog.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {benchmark.Id}: {benchmark.Time}; {benchmark.Reason ?? benchmark.Note}"));
                }
                // A series takes hours: say where it stands (progress, stderr).
                error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(fraction > 0 ? "detection" : "A/A")} series: {run} of {count} run(s) in {BudgetPlanner.Duration(seriesClock.Elapsed)}; ETA {BudgetPlanner.Duration(BudgetPlanner.Remaining(seriesClock.Elapsed, run, count))}"));
            });
            var rates = VerdictRates.From(builds.CommitA.ShortSha, separate, fraction, reports, planned: count);
            if (format == "json")
            {
                output.WriteLine(VerdictRatesJson.Serialize(rates));
            }
            else
            {
                output.WriteLine(rates.SummaryLine);
                output.WriteLine(rates.StatesLine);
            }
            return rates.Interrupted ? Run.RunInterruption.InterruptedExitCode : 0;
        }));
        return command;
    }

    /// <summary>
    /// Runs comparison 1, 2, ... up to <paramref name="count"/>, each by <paramref name="runOne"/> and then shown by
    /// <paramref name="finished"/>; <paramref name="stopRequested"/> is asked before each, so a stop lets the run in
    /// progress finish and starts no other. Returns the reports of the runs that finished.
    /// </summary>
    internal static List<ComparisonReport> RunSeries(int count, Func<bool> stopRequested, Func<int, ComparisonReport> runOne, Action<int, ComparisonReport> finished)
    {
        var reports = new List<ComparisonReport>(count);
        for (int run = 1; run <= count && !stopRequested(); run++)
        {
            var report = runOne(run);
            reports.Add(report);
            finished(run, report);
        }

        return reports;
    }
}
