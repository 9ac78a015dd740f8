using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Interleave;
using IpiEngine.Perf.Suite;
using IpiEngine.Perf.Trend;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

public class TrendTests
{
    [Fact]
    public void A_step_in_the_per_commit_medians_is_found_at_the_commit_that_made_it()
    {
        // Ten commits at 100 ns, then ten at 130 ns: the step is the eleventh commit.
        var records = Enumerable.Range(0, 20)
            .Select(i => Record($"c{i:d2}", Benchmark("Bench.X", Samples(i < 10 ? 100 : 130, 15, seed: i))))
            .ToList();
        var series = Assert.Single(TrendBuilder.Build(records, Machine, _ => true, minDistance: 2));
        Assert.Equal(20, series.Points.Count);
        Assert.Equal([10], series.ChangePoints);
        Assert.StartsWith("c10", series.Points[10].ShortSha, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flat_history_has_no_change_point()
    {
        var records = Enumerable.Range(0, 12)
            .Select(i => Record($"c{i:d2}", Benchmark("Bench.X", Samples(100, 15, seed: 100 + i))))
            .ToList();
        Assert.Empty(Assert.Single(TrendBuilder.Build(records, Machine, _ => true, minDistance: 2)).ChangePoints);
    }

    [Fact]
    public void Records_of_different_job_settings_are_separate_series_not_a_step()
    {
        // The same code throughout: three commits recorded by the full profile, three by interleaved rounds, whose block
        // medians read 30% higher. Pooled as one series, the switch of job read as a step at c03.
        var records = Enumerable.Range(0, 6)
            .Select(i => Record($"c{i:d2}", Machine, i < 3 ? SuiteProfile.Full : InterleavedRound.Profile, dirty: false,
                Benchmark("Bench.X", Samples(i < 3 ? 100 : 130, 15, seed: 300 + i))))
            .ToList();

        var series = TrendBuilder.Build(records, Machine, _ => true, minDistance: 1);

        Assert.Equal(["Bench.X (full)", $"Bench.X ({InterleavedRound.Profile.Name})"], series.Select(s => s.Name));
        Assert.All(series, s => Assert.Equal(3, s.Points.Count));
        Assert.All(series, s => Assert.Empty(s.ChangePoints));
    }

    [Fact]
    public void Cross_thread_benchmarks_get_one_series_per_state_and_dirty_records_are_skipped()
    {
        var records = new[]
        {
            Record("c01", Benchmark("Bench.Ring", Samples(100, 15, 1), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread)),
            Record("c02", Benchmark("Bench.Ring", Samples(250, 15, 2), state: CoreDistanceState.Far, categories: SuiteCategories.CrossThread)),
            Record("c03", Benchmark("Bench.Ring", Samples(170, 15, 3), state: CoreDistanceState.Mixed, categories: SuiteCategories.CrossThread)),
            Record("c04", Machine, SuiteProfile.Full, dirty: true, Benchmark("Bench.Ring", Samples(999, 15, 4), state: CoreDistanceState.Near, categories: SuiteCategories.CrossThread)),
        };
        var series = TrendBuilder.Build(records, Machine, _ => true, minDistance: 1);
        Assert.Equal(["Bench.Ring [far]", "Bench.Ring [near]"], series.Select(s => s.Name));
        Assert.All(series, s => Assert.Single(s.Points));
    }

    [Fact]
    public void The_chart_is_a_png_file()
    {
        using var folder = PerfFixtures.TempFolder();
        var records = Enumerable.Range(0, 8)
            .Select(i => Record($"d{i:d2}", Benchmark("Bench.Chart(Batch: 64)", Samples(i < 4 ? 50 : 70, 15, seed: 200 + i))))
            .ToList();
        var series = Assert.Single(TrendBuilder.Build(records, Machine, _ => true, minDistance: 2));
        var path = folder.File(TrendChart.FileName(series));
        TrendChart.SavePng(series, path);
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        Assert.Equal("Bench.Chart_Batch_64.png", TrendChart.FileName(series));
    }
}
