using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Comparison;

/// <summary>What one observation of a benchmark is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ComparisonUnit>))]
public enum ComparisonUnit
{
    /// <summary>Every iteration is a sample (stored records: the launches are too few to test across).</summary>
    Iteration,

    /// <summary>Every launch's median is one observation, tested across launches (<c>compare-commits</c>).</summary>
    Launch,
}

/// <summary>The verdict policy's knobs (defaults are the documented policy).</summary>
public sealed record ComparisonOptions
{
    /// <summary>Relative threshold of the equivalence test, BenchmarkDotNet syntax (<c>5%</c>).</summary>
    public string Threshold { get; init; } = "5%";

    /// <summary>Absolute noise floor: a shift smaller than this is never a change (<c>1ns</c>).</summary>
    public string NoiseFloor { get; init; } = "1ns";

    /// <summary>Relative threshold for cross-thread benchmarks with <see cref="ComparisonUnit.Launch"/> (<c>12%</c>).</summary>
    public string CrossThreadThreshold { get; init; } = "12%";

    /// <summary>Absolute floor for cross-thread benchmarks with <see cref="ComparisonUnit.Launch"/> (<c>1ns</c>).</summary>
    public string CrossThreadNoiseFloor { get; init; } = "1ns";

    /// <summary>What one observation is: an iteration (pooled samples) or a launch's median.</summary>
    public ComparisonUnit Unit { get; init; } = ComparisonUnit.Iteration;

    /// <summary>Significance level of each one-sided Mann–Whitney test.</summary>
    public double Alpha { get; init; } = 0.01;

    /// <summary>Level of the equivalence ("same") test of launches and rounds (<see cref="LaunchTest.DefaultEquivalenceAlpha"/>).</summary>
    public double EquivalenceAlpha { get; init; } = LaunchTest.DefaultEquivalenceAlpha;

    /// <summary>When true, a cross-thread slowdown fails like a single-threaded one instead of warning.</summary>
    public bool GateCrossThread { get; init; }

    /// <summary>
    /// Fewest samples per side for a time verdict; below it the outcome is unknown. Five is the
    /// least at which the test can see a 20% shift at all; the full profile gives 30.
    /// </summary>
    public int MinSamples { get; init; } = 5;

    /// <summary>Restrict both sides to this machine id (needed when both sides share several).</summary>
    public string? MachineId { get; init; }
}
