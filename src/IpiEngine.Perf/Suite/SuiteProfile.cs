using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// A named set of job settings for the benchmark suite. The settings are pinned (not left to
/// BenchmarkDotNet's pilot heuristics) and written into every record, because two records are
/// comparable only when they were measured with the same settings.
/// </summary>
public sealed record SuiteProfile
{
    /// <summary>Profile name: <c>ci</c> or <c>full</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Separate benchmark processes per benchmark; samples are pooled over them.</summary>
    public required int LaunchCount { get; init; }

    /// <summary>Warmup iterations per launch.</summary>
    public required int WarmupCount { get; init; }

    /// <summary>Measured iterations per launch (each one is a sample).</summary>
    public required int IterationCount { get; init; }

    /// <summary>Target duration of one iteration, in milliseconds.</summary>
    public required int IterationTimeMs { get; init; }

    /// <summary>Server GC on or off (pinned off: the engine targets hosts that run workstation GC).</summary>
    public bool GcServer { get; init; }

    /// <summary>Background GC on or off (pinned off: a background GC thread would compete for the two cores).</summary>
    public bool GcConcurrent { get; init; }

    /// <summary>Runtime knobs set as environment variables of every benchmark process.</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Samples per benchmark that one record of this profile holds.</summary>
    [JsonIgnore]
    public int SamplesPerBenchmark => LaunchCount * IterationCount;

    // Tiered PGO re-optimizes hot methods from a profile gathered at run time; which profile it
    // gathers varies from launch to launch, so it is pinned off for run-to-run comparability.
    private static readonly Dictionary<string, string> PinnedRuntimeKnobs = new(StringComparer.Ordinal)
    {
        ["DOTNET_TieredPGO"] = "0",
        ["DOTNET_TieredCompilation"] = "1",
        ["DOTNET_ReadyToRun"] = "1",
    };

    /// <summary>Seconds per benchmark: proves that every benchmark runs and allocates what it should; never a timed gate.</summary>
    public static SuiteProfile Ci { get; } = new()
    {
        Name = "ci",
        LaunchCount = 1,
        WarmupCount = 1,
        IterationCount = 3,
        IterationTimeMs = 25,
        Environment = PinnedRuntimeKnobs,
    };

    /// <summary>Enough samples for the Mann–Whitney test: 2 launches × 15 iterations = 30 per benchmark.</summary>
    public static SuiteProfile Full { get; } = new()
    {
        Name = "full",
        LaunchCount = 2,
        WarmupCount = 3,
        IterationCount = 15,
        IterationTimeMs = 250,
        Environment = PinnedRuntimeKnobs,
    };

    /// <summary>
    /// One launch of <c>compare-commits</c>: every selected benchmark once, in the process that runs
    /// the suite (BenchmarkDotNet's in-process toolchain), so that a launch costs no build and the
    /// process is the launch. The GC mode is pinned through environment variables, as an in-process
    /// job cannot set it. Launches alternate A and B; each launch's median is one observation.
    /// </summary>
    /// <remarks>
    /// Passed to any commit's suite as <c>--profile ci</c> plus BenchmarkDotNet's own
    /// <c>--inProcess --launchCount --warmupCount --iterationCount --iterationTime</c>, which every
    /// suite understands, so commits from before this profile can be compared too.
    /// </remarks>
    public static SuiteProfile CompareLaunch { get; } = new()
    {
        Name = "launch",
        LaunchCount = 1,
        WarmupCount = 3,
        IterationCount = 7,
        IterationTimeMs = 100,
        Environment = new Dictionary<string, string>(PinnedRuntimeKnobs, StringComparer.Ordinal)
        {
            ["DOTNET_gcServer"] = "0",
            ["DOTNET_gcConcurrent"] = "0",
        },
    };

    /// <summary>Every profile, by name.</summary>
    public static IReadOnlyList<SuiteProfile> All { get; } = [Ci, Full];

    /// <summary>The profile with this name (case-insensitive), or null.</summary>
    public static SuiteProfile? Find(string name)
    {
        foreach (var profile in All)
        {
            if (string.Equals(profile.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return profile;
            }
        }
        return null;
    }
}
