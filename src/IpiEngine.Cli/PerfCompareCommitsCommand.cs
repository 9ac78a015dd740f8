using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf compare-commits A B</c>: builds both commits in temporary clones, runs their suites
/// alternately (A, B, A, B, ...) and compares the pooled results like <c>compare</c>, with the
/// calibration of each round. The command to run before merging.
/// </summary>
public static class PerfCompareCommitsCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var a = new Argument<string>("A") { Description = "Baseline commit (sha, branch, tag)." };
        var b = new Argument<string>("B") { Description = "Commit under test." };
        var profile = PerfRecordCommand.ProfileOption();
        var filter = PerfRecordCommand.FilterOption();
        var rounds = new Option<int>("--rounds") { Description = "Alternating rounds (each runs A then B once).", DefaultValueFactory = _ => 2 };
        var save = new Option<bool>("--save") { Description = "Also store the rounds' records in the results folder." };
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var policy = new PolicyOptions();
        var command = new Command("compare-commits", "Build two commits and run their benchmarks alternately in one session, then compare them.")
        {
            a, b, profile, filter, rounds, save, results, repo,
        };
        policy.AddTo(command);
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, error) =>
        {
            var options = policy.Read(parse);
            var format = PerfComparisonPrinter.Validate(parse.GetValue(policy.Format));
            var comparer = new RunComparer(options);
            var suiteProfile = PerfRecordCommand.ResolveProfile(parse.GetValue(profile));
            var git = GitRepository.Open(parse.GetValue(repo) ?? Environment.CurrentDirectory);
            var outcome = new AlternatingRunner(git, error).Run(parse.GetValue(a)!, parse.GetValue(b)!, suiteProfile, parse.GetValue(filter) ?? [], parse.GetValue(rounds));
            if (parse.GetValue(save))
            {
                var store = new RecordStore(PerfCommand.ResultsFolder(parse.GetValue(results), git));
                foreach (var record in outcome.A.Records.Concat(outcome.B.Records))
                {
                    error.WriteLine($"saved {store.Save(record)}");
                }
            }
            foreach (var line in outcome.Rounds)
            {
                output.WriteLine(line);
            }
            var report = comparer.Compare(outcome.A, outcome.B);
            PerfComparisonPrinter.Print(report, format, output);
            return report.ExitCode;
        }));
        return command;
    }
}
