using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf compare --base X --diff Y</c>: pools each side's records (sha, branch, file or
/// folder) and prints the summary, Slower/Faster/Allocation tables and the verdict, with the caveat
/// that records from different times cannot separate drift from change (<c>compare-commits</c> can).
/// Exit 0 = no regression, 1 = regression on a gated metric, 2 = not comparable or bad input.
/// </summary>
internal static class PerfCompareCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var baseSpec = new Option<string?>("--base") { Description = "Baseline: a commit (sha, branch, tag), a range of commits (main~5..main), a record file or a folder of records." };
        var diffSpec = new Option<string?>("--diff") { Description = "The side under test: a commit, a record file or a folder of records." };
        var policy = new PolicyOptions(byLaunch: false);
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var command = new Command("compare", "Compare two commits' (or record sets') benchmark results with a statistical test.")
        {
            baseSpec, diffSpec, results, repo,
        };
        policy.AddTo(command);
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, _) =>
        {
            var options = policy.Read(parse);
            var format = PerfComparisonPrinter.Validate(parse.GetValue(policy.Format));
            var baseName = parse.GetValue(baseSpec) ?? throw new PerfInputException("Name the baseline with --base (a commit, a record file or a folder).");
            var diffName = parse.GetValue(diffSpec) ?? throw new PerfInputException("Name the side under test with --diff (a commit, a record file or a folder).");
            var git = PerfCommand.TryOpenRepository(parse.GetValue(repo));
            var store = new RecordStore(PerfCommand.ResultsFolder(parse.GetValue(results), git));
            var selector = new RecordSelector(store, git);
            var report = new RunComparer(options).Compare(selector.Select(baseName, isBaseline: true), selector.Select(diffName, isBaseline: false)) with
            {
                Caveat = DriftCaveat(baseName, diffName),
            };
            PerfComparisonPrinter.Print(report, format, output);
            return report.ExitCode;
        }));
        return command;
    }

    /// <summary>What stored records cannot tell, and what can.</summary>
    internal static string DriftCaveat(string baseName, string diffName) =>
        "stored records were measured at different times, so this comparison cannot separate drift of the machine "
        + "(core state, neighbours, temperature) from a change of the code; for a verdict on a change run "
        + $"'ipi perf compare-commits {Quote(baseName)} {Quote(diffName)}', which alternates launches of both commits in one session";

    private static string Quote(string name) => name.Contains(' ', StringComparison.Ordinal) ? $"\"{name}\"" : name;
}
