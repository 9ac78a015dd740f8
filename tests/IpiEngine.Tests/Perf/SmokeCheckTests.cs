using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

public class SmokeCheckTests
{
    [Fact]
    public void A_record_where_everything_ran_and_zero_alloc_allocated_nothing_passes() =>
        Assert.Empty(SmokeCheck.Problems(Record("aaa",
            Benchmark("A", Samples(10, 3, 1), allocated: 0, categories: SuiteCategories.ZeroAlloc),
            Benchmark("B", Samples(10, 3, 2), allocated: 64))));

    [Fact]
    public void A_zero_alloc_benchmark_that_allocates_fails_the_check()
    {
        var problem = Assert.Single(SmokeCheck.Problems(Record("aaa",
            Benchmark("A", Samples(10, 3, 1), allocated: 8, categories: SuiteCategories.ZeroAlloc))));
        Assert.Contains("allocated 8 B per operation", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_benchmark_fails_the_check() =>
        Assert.Contains("failed", Assert.Single(SmokeCheck.Problems(Record("aaa", Benchmark("A", [])))), StringComparison.Ordinal);

    [Fact]
    public void An_empty_record_fails_the_check() =>
        Assert.Single(SmokeCheck.Problems(Record("aaa")));

    [Fact]
    public void The_checked_in_fixture_passes_the_check()
    {
        var record = RecordConverter.Convert(
            [PerfFixtures.Path("calibration-ci-report-full.json")],
            SuiteRunManifest.Load(PerfFixtures.Path("calibration-ci-manifest.json")),
            new CommitInfo { Sha = new string('a', 40) },
            DateTimeOffset.UtcNow);
        Assert.Empty(SmokeCheck.Problems(record));
    }

    [Fact]
    public void A_validation_error_fails_the_check()
    {
        var record = Record("aaa", Benchmark("A", Samples(10, 3, 1)));
        record = record with { Run = record.Run with { ValidationErrors = ["Benchmark class Foo is sealed."] } };
        Assert.Contains("sealed", Assert.Single(SmokeCheck.Problems(record)), StringComparison.Ordinal);
    }
}
