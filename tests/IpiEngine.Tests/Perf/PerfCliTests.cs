using IpiEngine.Cli;
using IpiEngine.Perf.Records;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

/// <summary><c>ipi perf</c> end to end in-process: exit codes and one-sentence errors on bad input.</summary>
public sealed class PerfCliTests : IDisposable
{
    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public void Dispose() => _folder.Dispose();

    private static (int ExitCode, string Output, string Error) Run(params string[] args) => PerfFixtures.RunCli(args);

    private string Save(PerfRecord record) => new RecordStore(_folder.FullName).Save(record);

    private static void AssertOneSentenceError(string error)
    {
        var lines = error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Check_refuses_an_option_it_does_not_have_instead_of_reading_it_as_a_record()
    {
        var (exit, output, error) = Run("perf", "check", "--base", "x");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains("'--base' is not an option of ipi perf check", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_of_a_20_percent_slowdown_exits_1_and_prints_the_slower_table()
    {
        var basePath = Save(Record("aaa", Benchmark("Bench.X", Samples(100, 15, 1))));
        var diffPath = Save(Record("bbb", Benchmark("Bench.X", Samples(120, 15, 2))));
        var (exit, output, _) = Run("perf", "compare", "--base", basePath, "--diff", diffPath);
        Assert.Equal(1, exit);
        Assert.Contains("Slower", output, StringComparison.Ordinal);
        Assert.Contains("Bench.X", output, StringComparison.Ordinal);
        Assert.Contains("verdict: REGRESSION", output, StringComparison.Ordinal);
        Assert.Contains("calibration near 1", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_in_json_and_markdown_gives_the_same_verdict()
    {
        var basePath = Save(Record("aaa", Benchmark("Bench.X", Samples(100, 15, 3))));
        var diffPath = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 4))));
        var (jsonExit, json, _) = Run("perf", "compare", "--base", basePath, "--diff", diffPath, "--format", "json");
        Assert.Equal(0, jsonExit);
        Assert.Contains("\"verdict\": \"Pass\"", json, StringComparison.Ordinal);
        var (markdownExit, markdown, _) = Run("perf", "compare", "--base", basePath, "--diff", diffPath, "--format", "markdown");
        Assert.Equal(0, markdownExit);
        Assert.Contains("**verdict: PASS", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_across_machines_exits_2()
    {
        var basePath = Save(Record("aaa", "machine-a", IpiEngine.Perf.Suite.SuiteProfile.Full, false, Benchmark("Bench.X", Samples(100, 15, 5))));
        var diffPath = Save(Record("bbb", "machine-b", IpiEngine.Perf.Suite.SuiteProfile.Full, false, Benchmark("Bench.X", Samples(100, 15, 6))));
        var (exit, output, _) = Run("perf", "compare", "--base", basePath, "--diff", diffPath);
        Assert.Equal(2, exit);
        Assert.Contains("NOT COMPARABLE", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_record_file_is_one_sentence_and_exit_2()
    {
        var (exit, _, error) = Run("perf", "compare", "--base", _folder.File("nope.json"), "--diff", _folder.File("nope2.json"), "--results", _folder.FullName, "--repo", _folder.FullName);
        Assert.Equal(2, exit);
        AssertOneSentenceError(error);
    }

    [Fact]
    public void A_malformed_record_file_is_one_sentence_and_exit_2()
    {
        var bad = _folder.File("20260101T000000Z_0123456789ab.json");
        File.WriteAllText(bad, "{ \"schemaVersion\": 1, \"commit\": ");
        var good = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 7))));
        var (exit, _, error) = Run("perf", "compare", "--base", bad, "--diff", good);
        Assert.Equal(2, exit);
        AssertOneSentenceError(error);
        Assert.Contains("not a valid perf record", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("benchmark")]
    [InlineData("samples")]
    [InlineData("calibration")]
    [InlineData("validationErrors")]
    [InlineData("NaN")]
    [InlineData("-Infinity")]
    public void A_record_with_null_where_a_value_is_required_is_one_sentence_and_exit_2(string nulled)
    {
        var good = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 9))));
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(good))!.AsObject();
        var benchmarks = json["benchmarks"]!.AsArray();
        switch (nulled)
        {
            case "run": json["run"] = null; break;
            case "benchmark": benchmarks[0] = null; break;
            case "calibration" or "validationErrors": json["run"]![nulled] = null; break;
            case "NaN" or "-Infinity": benchmarks[0]!["samples"]![3] = nulled; break; // the reader takes these as strings
            default: benchmarks[0]!["samples"] = null; break;
        }
        var bad = _folder.File("20260101T000000Z_0badc0ffee01.json");
        File.WriteAllText(bad, json.ToJsonString());

        var (exit, _, error) = Run("perf", "compare", "--base", bad, "--diff", good);

        Assert.Equal(2, exit); // it was a NullReferenceException far from the file, exit 1: read as REGRESSION
        AssertOneSentenceError(error);
        Assert.Contains(nulled is "NaN" or "-Infinity" ? "is not a usable perf record" : "is not a perf record", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("base", "side is empty")]
    [InlineData("diff", "side is empty")]
    [InlineData("ratio", "benchmark name is empty")]
    public void An_empty_side_or_benchmark_name_is_one_sentence_and_exit_2(string empty, string expected)
    {
        var good = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 10)), Benchmark("Bench.Y", Samples(50, 15, 11))));
        string[] args = empty switch
        {
            "base" => ["perf", "compare", "--base", "", "--diff", good],
            "diff" => ["perf", "compare", "--base", good, "--diff", " "],
            _ => ["perf", "ratio", "", "Bench.Y", "--results", _folder.FullName],
        };

        var (exit, _, error) = Run(args);

        Assert.Equal(2, exit); // an ArgumentException: a stack trace and exit 4
        AssertOneSentenceError(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("perf", "check", "")]
    [InlineData("perf", "ratio", "A", "B", "--results", "")]
    [InlineData("perf", "idle", "--json", "")]
    [InlineData("perf", "stalls", "--json", "")]
    [InlineData("perf", "ioapic-roundtrip", "--json", "")]
    public void An_empty_path_is_one_sentence_and_exit_2(params string[] args)
    {
        var (exit, _, error) = Run(args);

        Assert.Equal(2, exit); // an ArgumentException from the path API: a stack trace and exit 4 or 1 (idle's "conservation violated")
        AssertOneSentenceError(error);
    }

    [Fact]
    public void Record_refuses_a_results_path_that_is_a_file_before_running_anything()
    {
        var file = _folder.File("not-a-folder");
        File.WriteAllText(file, "x");

        var (exit, _, error) = Run("perf", "record", "--no-build", "--results", file);

        Assert.Equal(2, exit); // the suite's records were lost after the whole run, exit 4
        AssertOneSentenceError(error);
        Assert.Contains("--results", error, StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="failing"/> through <see cref="IpiEngine.Cli.PerfCommand.Guarded"/>: its exit code and stderr.</summary>
    private static (int Exit, string Error) Guarded(Exception failing)
    {
        var parse = new System.CommandLine.RootCommand().Parse([]);
        using var output = new StringWriter();
        using var error = new StringWriter();
        parse.InvocationConfiguration.Output = output;
        parse.InvocationConfiguration.Error = error;
        int exit = IpiEngine.Cli.PerfCommand.Guarded(parse, (_, _) => throw failing);
        return (exit, error.ToString());
    }

    [Fact]
    public void A_failure_of_the_tool_itself_exits_4_not_a_verdicts_code()
    {
        var (exit, error) = Guarded(new IOException("Broken pipe"));

        Assert.Equal(4, exit);
        Assert.Contains("ipi perf failed (IOException): Broken pipe No verdict was reached; exit 4.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_that_died_exits_4_with_one_sentence()
    {
        var (exit, error) = Guarded(new IpiEngine.Perf.PerfToolException("The benchmark worker of B ended unexpectedly (exit code 9); its stderr is in the log above."));

        Assert.Equal(4, exit); // as a PerfInputException it exited 2, "bad input"
        AssertOneSentenceError(error);
        Assert.Contains("No verdict was reached; exit 4.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_file_that_is_not_a_record_is_one_sentence_and_exit_2()
    {
        var other = _folder.File("20260101T000000Z_0123456789ab.json");
        File.WriteAllText(other, "{ \"hello\": 1 }");
        var (exit, _, error) = Run("perf", "check", other);
        Assert.Equal(2, exit);
        AssertOneSentenceError(error);
        Assert.Contains("is not a perf record: one is a JSON object with \"commit\", \"machine\", \"run\" and \"benchmarks\"", error, StringComparison.Ordinal);
        Assert.DoesNotContain("IpiEngine.", error, StringComparison.Ordinal); // no type names
    }

    [Fact]
    public void An_unknown_sha_is_one_sentence_and_exit_2()
    {
        var good = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 8))));
        var (exit, _, error) = Run("perf", "compare", "--base", "0badc0ffee0badc0ffee", "--diff", good, "--results", _folder.FullName);
        Assert.Equal(2, exit);
        AssertOneSentenceError(error);
    }

    [Fact]
    public void An_empty_results_folder_is_one_sentence_and_exit_2()
    {
        using var empty = PerfFixtures.TempFolder();
        var (trendExit, _, trendError) = Run("perf", "trend", "--results", empty.FullName);
        Assert.Equal(2, trendExit);
        AssertOneSentenceError(trendError);
        var (compareExit, _, compareError) = Run("perf", "compare", "--base", empty.FullName, "--diff", empty.FullName);
        Assert.Equal(2, compareExit);
        AssertOneSentenceError(compareError);
    }

    [Fact]
    public void A_dirty_record_is_refused_as_a_baseline()
    {
        var dirty = Save(Record("aaa", Machine, IpiEngine.Perf.Suite.SuiteProfile.Full, dirty: true, Benchmark("Bench.X", Samples(100, 15, 9))));
        var clean = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 10))));
        var (exit, _, error) = Run("perf", "compare", "--base", dirty, "--diff", clean);
        Assert.Equal(2, exit);
        Assert.Contains("dirty", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_options_bad_format_and_unknown_arguments_exit_2()
    {
        Assert.Equal(2, Run("perf", "compare", "--diff", "x").ExitCode);
        var good = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 11))));
        Assert.Equal(2, Run("perf", "compare", "--base", good, "--diff", good, "--format", "yaml").ExitCode);
        Assert.Equal(2, Run("perf", "compare", "--base", good, "--diff", good, "--threshold", "lots").ExitCode);
        Assert.Equal(2, Program.Run(["perf", "compare", "--base", good, "--diff", good, "--bogus"], new StringWriter()));
        Assert.Equal(2, Run("perf", "record", "--profile", "huge").ExitCode);
    }

    [Fact]
    public void Check_fails_on_a_zero_alloc_benchmark_that_allocates()
    {
        var allocating = Save(Record("aaa", Benchmark("Bench.X", Samples(100, 3, 12), allocated: 16, categories: IpiEngine.Perf.Suite.SuiteCategories.ZeroAlloc)));
        var (exit, _, error) = Run("perf", "check", allocating);
        Assert.Equal(1, exit);
        Assert.Contains("allocated 16 B", error, StringComparison.Ordinal);
        var clean = Save(Record("bbb", Benchmark("Bench.X", Samples(100, 3, 13), allocated: 0, categories: IpiEngine.Perf.Suite.SuiteCategories.ZeroAlloc)));
        Assert.Equal(0, Run("perf", "check", clean).ExitCode);
    }

    [Fact]
    public void Trend_prints_the_series_and_writes_charts()
    {
        for (int i = 0; i < 6; i++)
        {
            Save(Record($"e{i:d2}", Benchmark("Bench.T", Samples(i < 3 ? 100 : 140, 15, 300 + i))));
        }
        using var charts = PerfFixtures.TempFolder();
        var (exit, output, _) = Run("perf", "trend", "--results", _folder.FullName, "--out", charts.FullName, "--min-distance", "1");
        Assert.Equal(0, exit);
        Assert.Contains("Bench.T: 6 commit(s)", output, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(charts.FullName, "*.png"));
    }

    [Fact]
    public void Compare_commits_with_an_unknown_commit_exits_2_before_building_anything()
    {
        var repositoryRoot = Path.GetFullPath(Path.Combine(PerfFixtures.Path("x"), "..", "..", "..", "..", ".."));
        var (exit, _, error) = Run("perf", "compare-commits", "no-such-commit-1", "HEAD", "--repo", repositoryRoot);
        Assert.Equal(2, exit);
        AssertOneSentenceError(error);
        Assert.Contains("no-such-commit-1", error, StringComparison.Ordinal);
    }
}
