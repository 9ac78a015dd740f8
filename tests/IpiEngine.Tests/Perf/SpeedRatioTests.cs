using System.Text.Json;
using IpiEngine.Perf;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Ratios;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

/// <summary><c>ipi perf ratio</c>: one benchmark against another in the same records, per core-distance state.</summary>
public sealed class SpeedRatioTests : IDisposable
{
    private const string Engine = "Suite.Headline.EngineSingle";
    private const string Queue = "Suite.Headline.Queues";

    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public void Dispose() => _folder.Dispose();

    private static PerfRecord Pair(string sha, double engineNs, double queueNs, CoreDistanceState engineState, CoreDistanceState queueState) =>
        Record(sha, Benchmark(Engine, Samples(engineNs, 15, 1), state: engineState), Benchmark(Queue, Samples(queueNs, 15, 2), state: queueState));

    private static PerfRecord[] History() =>
    [
        Pair("a1", 10, 31.5, CoreDistanceState.Near, CoreDistanceState.Near), // about 3.15x
        Pair("a2", 10, 25, CoreDistanceState.Near, CoreDistanceState.Near),   // 2.5x
        Pair("a3", 10, 40, CoreDistanceState.Near, CoreDistanceState.Near),   // 4x
        Pair("a4", 30, 36, CoreDistanceState.Far, CoreDistanceState.Far),     // 1.2x
        Pair("a5", 30, 45, CoreDistanceState.Far, CoreDistanceState.Far),     // 1.5x
        Pair("a6", 10, 45, CoreDistanceState.Near, CoreDistanceState.Far),    // a different state each: mixed
    ];

    [Fact]
    public void Each_record_counts_in_the_state_both_of_its_benchmarks_were_measured_in()
    {
        var report = SpeedRatios.Read(History(), Machine, "EngineSingle", "Queues", goal: 3);

        Assert.Equal(Engine, report.Benchmark);
        Assert.Equal(Queue, report.Reference);
        var job = Assert.Single(report.Jobs);
        Assert.Equal(6, job.Readings.Count);
        Assert.Equal(6, job.Commits);
        var near = Assert.Single(job.States, s => s.State == CoreDistanceState.Near);
        Assert.Equal(3, near.Records);
        Assert.Equal(2, near.ReachedGoal); // 3.15 and 4 reach 3; 2.5 does not
        Assert.InRange(near.Median, 3.05, 3.25);
        Assert.InRange(near.Min, 2.45, 2.55);
        Assert.InRange(near.Max, 3.9, 4.1);
        var far = Assert.Single(job.States, s => s.State == CoreDistanceState.Far);
        Assert.Equal(2, far.Records);
        Assert.Equal(0, far.ReachedGoal);
        Assert.InRange(far.Median, 1.3, 1.4);
        var mixed = Assert.Single(job.States, s => s.State == CoreDistanceState.Mixed);
        Assert.Equal(1, mixed.Records);
        Assert.InRange(mixed.Median, 4.4, 4.6);
    }

    [Fact]
    public void A_failed_or_missing_benchmark_leaves_its_record_out_and_another_machines_records_are_not_read()
    {
        var records = new List<PerfRecord>(History())
        {
            Record("b1", Benchmark(Engine, [], state: CoreDistanceState.Near), Benchmark(Queue, Samples(30, 15, 3))), // failed: no samples
            Record("b2", Benchmark(Queue, Samples(30, 15, 4))),
            Record("b3", "other-machine", IpiEngine.Perf.Suite.SuiteProfile.Full, dirty: false, Benchmark(Engine, Samples(1, 15, 5)), Benchmark(Queue, Samples(100, 15, 6))),
        };

        var report = SpeedRatios.Read(records, Machine, Engine, Queue, goal: null);

        var job = Assert.Single(report.Jobs);
        Assert.Equal(6, job.Readings.Count);
        Assert.All(job.States, s => Assert.Null(s.ReachedGoal));
        Assert.DoesNotContain(job.Readings, r => r.ShortSha.StartsWith('b'));
    }

    [Theory]
    [InlineData("NoSuch", "Queues", "No benchmark of the records selected is named 'NoSuch'")]
    [InlineData("Engine", "Queues", "did you mean Suite.Headline.EngineSingle?")]
    [InlineData("EngineSingle", "suite.headline.enginesingle", "are the same benchmark (Suite.Headline.EngineSingle): name two.")]
    public void A_name_that_does_not_pick_one_other_benchmark_is_refused_in_one_sentence(string benchmark, string reference, string expected)
    {
        var e = Assert.Throws<PerfInputException>(() => SpeedRatios.Read(History(), Machine, benchmark, reference, goal: null));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_name_shared_by_several_benchmarks_asks_for_more_of_the_id()
    {
        var records = new[] { Record("c1", Benchmark("A.Post", Samples(10, 15, 1)), Benchmark("B.Post", Samples(20, 15, 2)), Benchmark("C.Queue", Samples(30, 15, 3))) };
        var e = Assert.Throws<PerfInputException>(() => SpeedRatios.Read(records, Machine, "Post", "Queue", goal: null));
        Assert.Equal("'Post' names 2 benchmarks (A.Post, B.Post): give more of the id.", e.Message);
        Assert.Equal("A.Post", SpeedRatios.Read(records, Machine, "A.Post", "Queue", goal: null).Benchmark); // the whole id picks one
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-3.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_goal_that_is_not_a_positive_ratio_is_refused(double goal)
    {
        var e = Assert.Throws<PerfInputException>(() => SpeedRatios.Read(History(), Machine, Engine, Queue, goal));
        Assert.StartsWith("--goal must be a positive ratio", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_short_name_is_the_method_with_its_parameters()
    {
        Assert.Equal("EngineFusedSinglePost", SpeedRatios.ShortName("IpiEngine.Benchmarks.EndToEnd.HeadlineBenchmarks.EngineFusedSinglePost"));
        Assert.Equal("PostThenDrain(Kind: Unicast, Batch: 1.5)", SpeedRatios.ShortName("Ns.FusedPass.PostThenDrain(Kind: Unicast, Batch: 1.5)"));
        Assert.Equal("Plain", SpeedRatios.ShortName("Plain"));
    }

    [Fact]
    public void The_command_prints_one_row_per_state_and_the_same_figures_as_json()
    {
        var store = new RecordStore(_folder.FullName);
        foreach (var record in History())
        {
            store.Save(record);
        }

        store.Save(Record("d1", Machine, IpiEngine.Perf.Suite.SuiteProfile.Full, dirty: true, Benchmark(Engine, Samples(1, 15, 7)), Benchmark(Queue, Samples(100, 15, 8)))); // dirty: left out

        var (exit, output, error) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--goal", "3", "--results", _folder.FullName);
        Assert.True(exit == 0, error);
        Assert.Contains("EngineSingle against Queues: how many times as fast, per core-distance state", output, StringComparison.Ordinal);
        Assert.Contains($"machine {Machine}: 6 record(s) of 6 commit(s)", output, StringComparison.Ordinal);
        Assert.Matches(@"near\s+3\s+3\.\d\dx\s+.*2 \(67%\)", output);
        Assert.Matches(@"far\s+2\s+1\.3\dx\s+.*0 \(0%\)", output);
        Assert.Matches(@"mixed\s+1\s+4\.\d\dx", output);

        var (jsonExit, json, _) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--goal", "3", "--results", _folder.FullName, "--format", "json");
        Assert.Equal(0, jsonExit);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(Engine, root.GetProperty("benchmark").GetString());
        Assert.Equal(3, root.GetProperty("goal").GetDouble());
        var jobJson = Assert.Single(root.GetProperty("jobs").EnumerateArray());
        Assert.Equal(6, jobJson.GetProperty("readings").GetArrayLength());
        var nearJson = jobJson.GetProperty("states").EnumerateArray().Single(s => s.GetProperty("state").GetString() == "Near");
        Assert.Equal(2, nearJson.GetProperty("reachedGoal").GetInt32());
    }

    /// <summary>
    /// Review (s41): records of different job settings were pooled into one ratio: a <c>ci</c> profile record (3
    /// iterations of 25 ms) counted beside <c>full</c> ones. Each job gets its own table, the one with most records first.
    /// </summary>
    [Fact]
    public void Records_of_different_job_settings_are_summarized_per_job_never_pooled()
    {
        var store = new RecordStore(_folder.FullName);
        foreach (var record in History())
        {
            store.Save(record);
        }
        foreach (var sha in (string[])["e1", "e2", "e3", "e4"])
        {
            store.Save(Record(sha, Machine, IpiEngine.Perf.Suite.SuiteProfile.Ci, dirty: false,
                Benchmark(Engine, Samples(10, 3, 9), state: CoreDistanceState.Near), Benchmark(Queue, Samples(12, 3, 10), state: CoreDistanceState.Near))); // 1.2x
        }

        var (exit, output, error) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--goal", "3", "--results", _folder.FullName);

        Assert.True(exit == 0, error);
        Assert.Contains("made with 2 different job settings", output, StringComparison.Ordinal);
        Assert.Contains($"machine {Machine}: 6 record(s) of 6 commit(s)", output, StringComparison.Ordinal); // was 10 of 10, pooled
        Assert.Contains($"machine {Machine}: 4 record(s) of 4 commit(s)", output, StringComparison.Ordinal);
        Assert.Matches(@"job ci: launches 1, warmup 1, iterations 3 x 25 ms[^\n]*\n\s*\n[^\n]*\nnear\s+4\s+1\.[12]\dx\s+.*0 \(0%\)", output.ReplaceLineEndings("\n"));
        Assert.Matches(@"job full: [^\n]*\n\s*\n[^\n]*\nnear\s+3\s+3\.\d\dx\s+.*2 \(67%\)", output.ReplaceLineEndings("\n"));

        var (_, json, _) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--results", _folder.FullName, "--format", "json");
        using var document = JsonDocument.Parse(json);
        var jobs = document.RootElement.GetProperty("jobs").EnumerateArray().ToList();
        Assert.Equal(2, jobs.Count);
        Assert.StartsWith("full:", jobs[0].GetProperty("job").GetString(), StringComparison.Ordinal); // most records first
        Assert.Equal(4, jobs[1].GetProperty("readings").GetArrayLength());
    }

    [Fact]
    public void The_command_refuses_bad_input_with_one_sentence_and_exit_2()
    {
        var (emptyExit, _, emptyError) = PerfFixtures.RunCli("perf", "ratio", "A", "B", "--results", _folder.FullName);
        Assert.Equal(2, emptyExit);
        Assert.StartsWith("No records in ", emptyError, StringComparison.Ordinal);

        var path = new RecordStore(_folder.FullName).Save(History()[0]);
        var (formatExit, _, formatError) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--records", path, "--format", "xml");
        Assert.Equal(2, formatExit);
        Assert.Equal("Unknown format 'xml'; use one of: text, json.", formatError.Trim());

        var (goalExit, _, goalError) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--records", path, "--goal", "0");
        Assert.Equal(2, goalExit);
        Assert.Equal("--goal must be a positive ratio such as 3 or 0.75, not 0.", goalError.Trim());

        var (fileExit, fileOutput, _) = PerfFixtures.RunCli("perf", "ratio", "EngineSingle", "Queues", "--records", path);
        Assert.Equal(0, fileExit);
        Assert.Contains("1 record(s) of 1 commit(s)", fileOutput, StringComparison.Ordinal);
    }
}
