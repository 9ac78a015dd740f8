using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf record</c>: builds and runs the suite (or a filter of it) on the current tree and
/// writes one record to <c>perf-results/runs/&lt;machine-id&gt;/&lt;stamp&gt;_&lt;sha12&gt;[-dirty].json</c>.
/// </summary>
internal static class PerfRecordCommand
{
    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var profile = ProfileOption();
        var filter = FilterOption();
        var results = PerfCommand.ResultsOption();
        var repo = PerfCommand.RepoOption();
        var noBuild = new Option<bool>("--no-build") { Description = "Use the suite as already built (Release)." };
        var command = new Command("record", "Run the benchmark suite on the current tree and store one record of the run.")
        {
            profile, filter, results, repo, noBuild,
        };
        command.SetAction(parse => PerfCommand.Guarded(parse, (output, error) =>
        {
            var suiteProfile = ResolveProfile(parse.GetValue(profile));
            var git = GitRepository.Open(parse.GetValue(repo) ?? Environment.CurrentDirectory);
            bool dirty = git.IsDirty();
            var commit = git.Describe("HEAD", dirty);
            var store = new RecordStore(PerfCommand.ResultsFolder(parse.GetValue(results), git));
            store.EnsureWritable(); // before the builds and the benchmarks: their record must have somewhere to go
            var runner = new SuiteRunner(git.Root, error);
            if (!parse.GetValue(noBuild))
            {
                runner.Build();
            }
            var work = Directory.CreateTempSubdirectory("ipi-perf-record-");
            try
            {
                var (record, allRan) = runner.Run(suiteProfile, parse.GetValue(filter) ?? [], work.FullName, commit);
                var path = store.Save(record);
                int failed = record.Benchmarks.Count(b => b.Failed);
                output.WriteLine($"recorded {record.Benchmarks.Count} benchmark(s), {failed} failed, of {commit.ShortSha}{(dirty ? " (dirty tree: never a baseline)" : "")} on {record.Machine.Id}");
                output.WriteLine($"calibration: {CalibrationSummary.Of([record])}");
                foreach (var benchmark in record.Benchmarks)
                {
                    var median = benchmark.Median is { } ns ? ComparisonTables.Ns(ns) : "failed";
                    var allocated = benchmark.AllocatedBytesPerOp is { } bytes ? $"{bytes} B/op" : "n/a";
                    output.WriteLine($"  {median,12}  {allocated,10}  {benchmark.Calibration.State,-7}  {benchmark.Id}");
                }
                output.WriteLine(path);
                return allRan ? 0 : 1;
            }
            finally
            {
                work.Delete(recursive: true);
            }
        }));
        return command;
    }

    /// <summary><c>--profile ci|full</c>.</summary>
    internal static Option<string> ProfileOption() => new("--profile")
    {
        Description = "Job profile: ci (seconds, proves every benchmark runs) or full (30 samples per benchmark, for comparisons).",
        DefaultValueFactory = _ => SuiteProfile.Full.Name,
    };

    /// <summary><c>--filter GLOB...</c>, passed to BenchmarkDotNet.</summary>
    internal static Option<string[]> FilterOption() => new("--filter")
    {
        Description = "BenchmarkDotNet filter glob(s) on the benchmarks' full names (default: all).",
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The named profile, or a one-sentence error.</summary>
    internal static SuiteProfile ResolveProfile(string? name) =>
        SuiteProfile.Find(name ?? "") ?? throw new PerfInputException(
            $"Unknown profile '{name}'; use one of: {string.Join(", ", SuiteProfile.All.Select(p => p.Name))}.");
}
