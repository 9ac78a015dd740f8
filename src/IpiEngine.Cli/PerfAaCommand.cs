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
/// suite's specification (perf-results/README.md). Exit 0 when the series ran, 2 on bad input.
/// </summary>
internal static class PerfAaCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var commit = new Argument<string>("X") { Description = "The commit to compare with itself (sha, branch, tag)." };
        var runs = new Option<int>("--runs") { Description = "Comparisons to run.", DefaultValueFactory = _ => 20 };
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
            var reports = new List<ComparisonReport>(count);
            var seriesClock = System.Diagnostics.Stopwatch.StartNew();
            for (int run = 1; run <= count; run++)
            {
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"A/A run {run} of {count}"));
                var outcome = runner.Run(builds, settings, builds.BuildTime);
                var report = comparer.Compare(outcome.A, outcome.B);
                reports.Add(report);
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
            }
            var rates = VerdictRates.From(builds.CommitA.ShortSha, separate, fraction, reports);
            if (format == "json")
            {
                output.WriteLine(VerdictRatesJson.Serialize(rates));
            }
            else
            {
                output.WriteLine(rates.SummaryLine);
                output.WriteLine(rates.StatesLine);
            }
            return 0;
        }));
        return command;
    }
}
