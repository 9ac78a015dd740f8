using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IpiEngine.Perf;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Ratios;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf ratio A B</c>: how many times as fast benchmark A ran as benchmark B in the stored records, per core
/// state and per job settings (<see cref="SpeedRatios"/>), and with <c>--goal</c> how often a record reached a goal.
/// </summary>
internal static class PerfRatioCommand
{
    private static readonly string[] Formats = ["text", "json"];

    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var benchmark = new Argument<string>("benchmark") { Description = "The benchmark: its id, or the end of it after a dot (e.g. EngineFusedSinglePost)." };
        var reference = new Argument<string>("reference") { Description = "The benchmark it is measured against, named the same way (e.g. ConcurrentQueues)." };
        var records = new Option<string?>("--records") { Description = "Which records: a commit, a range of commits (main~20..main), a record file or a folder (default: every clean record in the results folder)." };
        var goal = new Option<double?>("--goal") { Description = "A ratio to reach, e.g. 3: also count the records that reached it, per state." };
        var machine = new Option<string?>("--machine") { Description = "Machine id (default: the one with the most records selected)." };
        var format = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var command = new Command("ratio", "How many times as fast one benchmark ran as another in the same records (the reference's median over the benchmark's), per core-distance state and per job settings (never pooled): median, quartiles, range, and how often a goal was reached.")
        {
            benchmark, reference, records, goal, machine, format, results, repo,
        };
        command.SetAction(parse => PerfCommand.Guarded(parse, (stdout, _) =>
        {
            var outputFormat = PerfComparisonPrinter.Validate(parse.GetValue(format), Formats);
            var git = PerfCommand.TryOpenRepository(parse.GetValue(repo));
            var store = new RecordStore(PerfCommand.ResultsFolder(parse.GetValue(results), git));
            var selected = Select(store, git, parse.GetValue(records));
            var machineId = PerfCommand.MachineOf(selected, parse.GetValue(machine));
            var report = SpeedRatios.Read(selected, machineId, parse.GetValue(benchmark)!, parse.GetValue(reference)!, parse.GetValue(goal));
            if (outputFormat == "json")
            {
                stdout.WriteLine(JsonSerializer.Serialize(report, PerfJsonContext.Default.RatioReport));
            }
            else
            {
                Print(report, stdout);
            }

            return 0;
        }));
        return command;
    }

    private static List<PerfRecord> Select(RecordStore store, Perf.Git.GitRepository? git, string? spec)
    {
        if (spec is not null)
        {
            return [.. new RecordSelector(store, git).Select(spec, isBaseline: false).Records];
        }

        var clean = PerfCommand.AllRecords(store).Where(r => !r.Commit.Dirty).ToList();
        return clean.Count > 0 ? clean : throw new PerfInputException($"Every record in {store.RunsFolder} comes from a dirty tree; name one with --records.");
    }

    private static void Print(RatioReport report, TextWriter output)
    {
        output.WriteLine($"{SpeedRatios.ShortName(report.Benchmark)} against {SpeedRatios.ShortName(report.Reference)}: how many times as fast, per core-distance state");
        if (report.Jobs.Count > 1)
        {
            output.WriteLine($"the records were made with {report.Jobs.Count} different job settings, which measure differently: one table per job, never pooled");
        }
        var goal = report.Goal is { } g ? string.Create(CultureInfo.InvariantCulture, $"reached {g:0.###}x") : "";
        foreach (var job in report.Jobs)
        {
            output.WriteLine();
            output.WriteLine($"machine {report.Machine}: {job.Readings.Count} record(s) of {job.Commits} commit(s) ({report.Benchmark}; {report.Reference})");
            output.WriteLine($"job {job.Job}");
            output.WriteLine();
            output.WriteLine($"{"state",-8} {"records",7} {"median",8}  {"q1 - q3",-15} {"min - max",-15} {goal}".TrimEnd());
            foreach (var s in job.States)
            {
                var reached = s.ReachedGoal is { } n ? string.Create(CultureInfo.InvariantCulture, $"{n} ({100.0 * n / s.Records:0}%)") : "";
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{StateName(s.State),-8} {s.Records,7} {s.Median,7:0.00}x  {$"{s.Q1:0.00} - {s.Q3:0.00}",-15} {$"{s.Min:0.00} - {s.Max:0.00}",-15} {reached}").TrimEnd());
            }
        }

        output.WriteLine();
        output.WriteLine("A record counts in a state only when both benchmarks were measured in it (mixed: they were not, or one of them changed state while it ran).");
    }

    private static string StateName(CoreDistanceState state) => state.ToString().ToLowerInvariant();
}
