using IpiEngine.Perf;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>Conversion of a real BenchmarkDotNet fulljson export (the suite's calibration benchmarks, ci profile) into a record.</summary>
public class RecordConversionTests
{
    private static readonly CommitInfo Commit = new() { Sha = "0123456789abcdef0123456789abcdef01234567", Subject = "fixture" };

    private static PerfRecord ConvertFixture(SuiteRunManifest? manifest = null) => RecordConverter.Convert(
        [PerfFixtures.Path("calibration-ci-report-full.json")],
        manifest ?? SuiteRunManifest.Load(PerfFixtures.Path("calibration-ci-manifest.json")),
        Commit,
        DateTimeOffset.Parse("2026-11-25T06:48:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Keeps_raw_samples_median_allocation_and_categories_per_benchmark()
    {
        var record = ConvertFixture();
        Assert.Equal(2, record.Benchmarks.Count);
        var roundTrip = Assert.Single(record.Benchmarks, b => b.Id.EndsWith(".CacheLineRoundTrip", StringComparison.Ordinal));
        Assert.Equal("IpiEngine.Benchmarks.Infrastructure.CalibrationBenchmarks.CacheLineRoundTrip", roundTrip.Id);
        Assert.Equal(3, roundTrip.Samples.Count);
        Assert.False(roundTrip.Failed);
        Assert.Equal(0, roundTrip.AllocatedBytesPerOp);
        Assert.Contains(SuiteCategories.CrossThread, roundTrip.Categories);
        Assert.InRange(roundTrip.Median!.Value, roundTrip.Samples.Min(), roundTrip.Samples.Max());
    }

    [Fact]
    public void Takes_machine_and_tools_from_the_export_and_job_from_the_manifest()
    {
        var record = ConvertFixture();
        Assert.Equal("amd-epyc-2c-linux-debian-gnu-linux-12", record.Machine.Id);
        Assert.Equal(2, record.Machine.LogicalCores);
        Assert.Equal("0.15.8", record.Run.BenchmarkDotNet);
        Assert.Equal("10.0.401", record.Run.Sdk);
        Assert.Equal("ci", record.Run.Job!.Name);
        Assert.Equal("0", record.Run.Job.Environment["DOTNET_TieredPGO"]);
        Assert.Equal(150, record.Run.Calibration.NearBelowNs);
    }

    [Fact]
    public void Labels_each_benchmark_with_its_calibration_state()
    {
        // The fixture was measured while the cores were far apart (about 400 ns before and after).
        var record = ConvertFixture();
        Assert.All(record.Benchmarks, b => Assert.Equal(CoreDistanceState.Far, b.Calibration.State));
        Assert.All(record.Benchmarks, b => Assert.True(b.Calibration.BeforeNs > 150 && b.Calibration.AfterNs > 150));
    }

    [Fact]
    public void A_benchmark_that_started_but_left_no_results_is_kept_as_failed()
    {
        var manifest = SuiteRunManifest.Load(PerfFixtures.Path("calibration-ci-manifest.json"));
        manifest = manifest with { Benchmarks = [.. manifest.Benchmarks, new ManifestBenchmark { FullName = "Crashed.Benchmark", Categories = ["Rings"] }] };
        var record = ConvertFixture(manifest);
        var crashed = Assert.Single(record.Benchmarks, b => b.Id == "Crashed.Benchmark");
        Assert.True(crashed.Failed);
        Assert.Empty(crashed.Samples);
        Assert.Null(crashed.AllocatedBytesPerOp);
    }

    [Fact]
    public void Two_records_of_one_commit_started_in_the_same_second_are_both_kept()
    {
        // compare-commits X X --save writes A's and B's record of a round with one start time and one sha: B's overwrote
        // A's, so half of an A/A run's records were lost (12 files for 12 rounds of two sides, 2026-12-03).
        using var folder = PerfFixtures.TempFolder();
        var store = new RecordStore(folder.FullName);
        var a = ConvertFixture();
        var b = a with { Benchmarks = [a.Benchmarks[0] with { Samples = [1, 2, 3] }, .. a.Benchmarks.Skip(1)] };
        var first = store.Save(a);
        var second = store.Save(b);
        Assert.NotEqual(first, second);
        Assert.Equal("20261125T064800Z_0123456789ab-2.json", Path.GetFileName(second));
        Assert.Equal([first, second], store.FilesOf(a.Commit.Sha));
        Assert.Equal(a.Benchmarks[0].Samples, RecordStore.Load(first).Benchmarks[0].Samples);
        Assert.Equal([1, 2, 3], RecordStore.Load(second).Benchmarks[0].Samples);
        Assert.True(RecordFileName.TryParse(second, out _, out var sha, out bool dirty));
        Assert.Equal("0123456789ab", sha);
        Assert.False(dirty);
    }

    [Fact]
    public void Saved_record_reads_back_equal_and_is_named_by_stamp_and_sha()
    {
        using var folder = PerfFixtures.TempFolder();
        var record = ConvertFixture();
        var path = new RecordStore(folder.FullName).Save(record);
        Assert.Equal("20261125T064800Z_0123456789ab.json", Path.GetFileName(path));
        Assert.Equal(record.Machine.Id, new DirectoryInfo(Path.GetDirectoryName(path)!).Name);
        var loaded = RecordStore.Load(path);
        Assert.Equal(record.Benchmarks[0].Samples, loaded.Benchmarks[0].Samples);
        Assert.Equal(record.Commit.Sha, loaded.Commit.Sha);
        Assert.Equal(record.Benchmarks[0].Calibration, loaded.Benchmarks[0].Calibration);
    }

    [Fact]
    public void A_malformed_export_is_a_clear_input_error()
    {
        using var folder = PerfFixtures.TempFolder();
        File.WriteAllText(folder.File("bad-report-full.json"), "{ \"Benchmarks\": [ ");
        var error = Assert.Throws<PerfInputException>(() => RecordConverter.Convert([folder.File("bad-report-full.json")], null, Commit, DateTimeOffset.UtcNow));
        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
        Assert.Throws<PerfInputException>(() => RecordConverter.Convert([folder.File("missing.json")], null, Commit, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Bare_NaN_in_an_export_is_read_as_missing()
    {
        using var folder = PerfFixtures.TempFolder();
        var text = File.ReadAllText(PerfFixtures.Path("calibration-ci-report-full.json"));
        text = text.Replace("\"Kurtosis\":", "\"Kurtosis\":NaN, \"Ignored\":", StringComparison.Ordinal);
        File.WriteAllText(folder.File("nan-report-full.json"), text);
        var record = RecordConverter.Convert([folder.File("nan-report-full.json")], null, Commit, DateTimeOffset.UtcNow);
        Assert.Equal(2, record.Benchmarks.Count);
    }
}
