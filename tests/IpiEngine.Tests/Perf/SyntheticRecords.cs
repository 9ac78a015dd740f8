using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Tests.Perf;

/// <summary>Builds records with known samples for the comparison and trend tests.</summary>
internal static class SyntheticRecords
{
    public const string Machine = "test-cpu-2c-linux";
    private static int s_stamp;

    /// <summary>
    /// <paramref name="count"/> samples around <paramref name="center"/> with a 1% spread, from a
    /// seeded generator (the same seed gives the same samples: no flakiness).
    /// </summary>
    public static double[] Samples(double center, int count, int seed)
    {
        var random = new Random(seed);
        var samples = new double[count];
        for (int i = 0; i < count; i++)
        {
            samples[i] = center * (1 + ((random.NextDouble() - 0.5) * 0.02));
        }
        return samples;
    }

    public static BenchmarkResult Benchmark(string id, double[] samples, long allocated = 0, CoreDistanceState state = CoreDistanceState.Near, params string[] categories)
    {
        double? reading = state switch
        {
            CoreDistanceState.Near => 55,
            CoreDistanceState.Far => 350,
            _ => null,
        };
        var sorted = samples.Order().ToArray();
        return new BenchmarkResult
        {
            Id = id,
            Categories = categories,
            Samples = samples,
            Median = sorted.Length == 0 ? null : sorted[sorted.Length / 2],
            Failed = samples.Length == 0,
            AllocatedBytesPerOp = samples.Length == 0 ? null : allocated,
            Calibration = new BenchmarkCalibration
            {
                BeforeNs = reading,
                AfterNs = state == CoreDistanceState.Mixed ? 350 : reading,
                State = state == CoreDistanceState.Mixed ? CoreDistanceState.Mixed : state,
            },
        };
    }

    public static PerfRecord Record(string sha, params BenchmarkResult[] benchmarks) =>
        Record(sha, Machine, SuiteProfile.Full, dirty: false, benchmarks);

    public static PerfRecord Record(string sha, string machine, SuiteProfile job, bool dirty, params BenchmarkResult[] benchmarks) => new()
    {
        Commit = new CommitInfo { Sha = sha.PadRight(40, '0'), Subject = "test", Dirty = dirty, CommittedUtc = DateTimeOffset.UnixEpoch.AddDays(s_stamp) },
        Machine = new MachineInfo { Id = machine, Cpu = "Test CPU", LogicalCores = 2, Os = "Linux" },
        Run = new RunInfo { StartedUtc = DateTimeOffset.UnixEpoch.AddMinutes(Interlocked.Increment(ref s_stamp)), Job = job },
        Benchmarks = benchmarks,
    };

    public static RecordSet Set(string label, params PerfRecord[] records) => new(label, records, []);

    /// <summary>One side's record of interleaved round <paramref name="round"/>: one benchmark whose samples are its block medians, far.</summary>
    public static PerfRecord Interleaved(string sha, int round, string id, IReadOnlyList<double> blocks) =>
        Interleaved(sha, round, (id, blocks));

    /// <summary>One side's record of interleaved round <paramref name="round"/> with several benchmarks, each far.</summary>
    public static PerfRecord Interleaved(string sha, int round, params (string Id, IReadOnlyList<double> Blocks)[] benchmarks) =>
        Interleaved(sha, round, [.. benchmarks.Select(b => (b.Id, b.Blocks, new[] { "Apic" }))]);

    /// <summary>The same, with each benchmark's categories (e.g. <c>CrossThread</c>).</summary>
    public static PerfRecord Interleaved(string sha, int round, params (string Id, IReadOnlyList<double> Blocks, string[] Categories)[] benchmarks)
    {
        var record = Record(sha, Machine, IpiEngine.Perf.Interleave.InterleavedRound.Profile, dirty: false,
            [.. benchmarks.Select(b => Benchmark(b.Id, [.. b.Blocks], state: CoreDistanceState.Far, categories: b.Categories))]);
        return record with { Run = record.Run with { Round = round } };
    }
}
