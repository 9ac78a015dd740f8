using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Trend;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf trend</c>: per-benchmark series of per-commit medians across the stored records,
/// change points from Perfolizer's EdPelt detector, and with <c>--out</c> a PNG per benchmark.
/// </summary>
internal static class PerfTrendCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var machine = new Option<string?>("--machine") { Description = "Machine id (default: the one with the most records)." };
        var filter = new Option<string?>("--filter") { Description = "Glob on benchmark ids (* and ?), default all." };
        var output = new Option<string?>("--out") { Description = "Folder to write one PNG chart per benchmark into (not committed by default)." };
        var minDistance = new Option<int>("--min-distance") { Description = "Fewest commits between two change points.", DefaultValueFactory = _ => 2 };
        var command = new Command("trend", "Per-commit medians of each benchmark, their change points, and PNG charts.")
        {
            results, repo, machine, filter, output, minDistance,
        };
        command.SetAction(parse => PerfCommand.Guarded(parse, (stdout, _) =>
        {
            if (parse.GetValue(minDistance) < 1)
            {
                throw new PerfInputException("--min-distance must be at least 1.");
            }
            var folder = PerfCommand.ResultsFolder(parse.GetValue(results), PerfCommand.TryOpenRepository(parse.GetValue(repo)));
            var records = PerfCommand.AllRecords(new RecordStore(folder));
            var machineId = PerfCommand.MachineOf(records, parse.GetValue(machine));
            var glob = parse.GetValue(filter) is { } pattern
                ? new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$", RegexOptions.IgnoreCase)
                : null;
            var series = TrendBuilder.Build(records, machineId, id => glob?.IsMatch(id) ?? true, parse.GetValue(minDistance));
            if (series.Count == 0)
            {
                throw new PerfInputException($"No clean record on machine '{machineId}' has a benchmark matching the filter.");
            }
            var chartFolder = parse.GetValue(output);
            if (chartFolder is not null)
            {
                Directory.CreateDirectory(chartFolder);
            }
            stdout.WriteLine($"machine {machineId}: {series.Count} series over {records.Count(r => r.Machine.Id == machineId && !r.Commit.Dirty)} clean record(s)");
            foreach (var s in series)
            {
                var last = s.Points[^1];
                var steps = s.ChangePoints.Count == 0
                    ? "no change point"
                    : string.Join("; ", s.ChangePoints.Select(i => string.Create(CultureInfo.InvariantCulture,
                        $"step at {s.Points[i].ShortSha}: {ComparisonTables.Ns(s.Points[i - 1].Median)} -> {ComparisonTables.Ns(s.Points[i].Median)}")));
                stdout.WriteLine($"{s.Name}: {s.Points.Count} commit(s), last {ComparisonTables.Ns(last.Median)} at {last.ShortSha}; {steps}");
                if (chartFolder is not null)
                {
                    TrendChart.SavePng(s, Path.Combine(chartFolder, TrendChart.FileName(s)));
                }
            }
            if (chartFolder is not null)
            {
                stdout.WriteLine($"charts written to {Path.GetFullPath(chartFolder)}");
            }
            return 0;
        }));
        return command;
    }
}
