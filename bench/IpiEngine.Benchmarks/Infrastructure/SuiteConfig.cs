using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using IpiEngine.Perf.Suite;
using Perfolizer.Horology;

namespace IpiEngine.Benchmarks.Infrastructure;

/// <summary>
/// The one configuration every benchmark runs with: the profile's pinned job (launches, warmups,
/// iterations, GC mode, runtime knobs as environment variables), MemoryDiagnoser, the IPIs/s
/// column and the full JSON export that <c>ipi perf record</c> converts. With a manifest path it
/// also runs the calibration probe around each benchmark.
/// </summary>
public static class SuiteConfig
{
    /// <summary>Builds the configuration for one run.</summary>
    public static IConfig Create(SuiteProfile profile, string? manifestPath)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(CreateJob(profile).AsDefault())
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(ThroughputColumn.Instance)
            .AddExporter(JsonExporter.Full)
            // BenchmarkDotNet's default of 2 minutes to build its generated project ran out on this loaded 2-core
            // machine (the smoke step then ran no benchmark at all): a slow build is not a failed one.
            .WithBuildTimeout(TimeSpan.FromMinutes(15));
        if (manifestPath is not null)
        {
            config.AddEventProcessor(new CalibrationRecorder(profile, manifestPath));
        }
        return config;
    }

    /// <summary>The BenchmarkDotNet job that a profile stands for.</summary>
    public static Job CreateJob(SuiteProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var environment = profile.Environment
            .Select(pair => new EnvironmentVariable(pair.Key, pair.Value))
            .ToArray();
        return Job.Default
            .WithId(profile.Name)
            .WithLaunchCount(profile.LaunchCount)
            .WithWarmupCount(profile.WarmupCount)
            .WithIterationCount(profile.IterationCount)
            .WithIterationTime(TimeInterval.FromMilliseconds(profile.IterationTimeMs))
            .WithGcServer(profile.GcServer)
            .WithGcConcurrent(profile.GcConcurrent)
            .WithEnvironmentVariables(environment);
    }
}
