using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf</c>: the perf regression suite's workflow: <c>record</c>, <c>compare</c>,
/// <c>compare-commits</c>, <c>aa</c>, <c>trend</c>, <c>check</c>. Bad input always ends with one sentence on
/// stderr and exit code 2.
/// </summary>
internal static class PerfCommand
{
    /// <summary>The <c>perf</c> verb with its subcommands.</summary>
    public static Command Create()
    {
        var perf = new Command("perf", "Record the benchmark suite's results per commit, compare commits with statistics, draw the trend.");
        perf.Subcommands.Add(PerfRecordCommand.Create());
        perf.Subcommands.Add(PerfCompareCommand.Create());
        perf.Subcommands.Add(PerfCompareCommitsCommand.Create());
        perf.Subcommands.Add(PerfAaCommand.Create());
        perf.Subcommands.Add(PerfTrendCommand.Create());
        perf.Subcommands.Add(PerfRatioCommand.Create());
        perf.Subcommands.Add(PerfCheckCommand.Create());
        perf.Subcommands.Add(PerfIdleCommand.Create());
        perf.Subcommands.Add(PerfStallsCommand.Create());
        perf.Subcommands.Add(PerfIoApicRoundTripCommand.Create());
        perf.Subcommands.Add(PerfWorkerCommand.Create());
        return perf;
    }

    /// <summary><c>--results</c>: the results folder (default: <c>perf-results/</c> at the repository root).</summary>
    internal static Option<string?> ResultsOption() => new("--results")
    {
        Description = "Results folder (default: perf-results/ at the repository root).",
    };

    /// <summary><c>--repo</c>: where the repository is (default: the current folder).</summary>
    internal static Option<string?> RepoOption() => new("--repo")
    {
        Description = "A folder inside the git repository (default: the current folder).",
    };

    /// <summary>
    /// Runs a subcommand's body with the invocation's output and error writers; a
    /// <see cref="PerfInputException"/> becomes one sentence and exit 2 (parse errors are
    /// <see cref="Program.Run"/>'s, also exit 2).
    /// </summary>
    internal static int Guarded(ParseResult parseResult, Func<TextWriter, TextWriter, int> body)
    {
        var output = parseResult.InvocationConfiguration.Output ?? Console.Out;
        var error = parseResult.InvocationConfiguration.Error ?? Console.Error;
        try
        {
            return body(output, error);
        }
        catch (PerfInputException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        catch (PerfToolException e)
        {
            error.WriteLine($"{e.Message} No verdict was reached; exit {ToolFailedExitCode}.");
            return ToolFailedExitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not a verdict: left to System.CommandLine, a failure of the tool itself (a worker that died mid-request, a
            // line it garbled) exited 1, which a CI job reads as REGRESSION.
            error.WriteLine($"ipi perf failed ({e.GetType().Name}): {e.Message} No verdict was reached; exit {ToolFailedExitCode}.");
            error.WriteLine(e.StackTrace);
            return ToolFailedExitCode;
        }
    }

    /// <summary>The exit code of a perf command that failed in itself, distinct from every verdict's (0-3) and input errors' (2).</summary>
    internal const int ToolFailedExitCode = 4;

    /// <summary>The repository, or null when <paramref name="repo"/> is not inside one and git is optional.</summary>
    internal static GitRepository? TryOpenRepository(string? repo)
    {
        try
        {
            return GitRepository.Open(repo ?? Environment.CurrentDirectory);
        }
        catch (PerfInputException)
        {
            return null;
        }
    }

    /// <summary>The results folder: <paramref name="results"/>, else <c>perf-results/</c> at the repository root or here.</summary>
    internal static string ResultsFolder(string? results, GitRepository? git) => results is { } given
        ? given.Trim().Length > 0 ? given : throw new PerfInputException("--results needs a folder, not an empty string.")
        : Path.Combine(git?.Root ?? Environment.CurrentDirectory, "perf-results");

    /// <summary>Every record of <paramref name="store"/>, oldest first; an empty store is refused in one sentence.</summary>
    internal static List<PerfRecord> AllRecords(RecordStore store)
    {
        var files = store.AllFiles();
        return files.Count > 0
            ? [.. files.Select(RecordStore.Load)]
            : throw new PerfInputException($"No records in {store.RunsFolder}; run 'ipi perf record' first.");
    }

    /// <summary>The machine named by <c>--machine</c>, else the one with the most of <paramref name="records"/>.</summary>
    internal static string MachineOf(IEnumerable<PerfRecord> records, string? named) =>
        named ?? records.GroupBy(r => r.Machine.Id).OrderByDescending(g => g.Count()).First().Key;
}
