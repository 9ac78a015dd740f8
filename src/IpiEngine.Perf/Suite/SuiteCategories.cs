namespace IpiEngine.Perf.Suite;

/// <summary>
/// Benchmark categories with a meaning to the perf tools, beside each class's area category
/// (<c>Apic</c>, <c>Rings</c>, <c>Pipeline</c>, <c>EndToEnd</c>, <c>Baselines</c>, ...).
/// Use them in <c>[BenchmarkCategory(...)]</c>.
/// </summary>
public static class SuiteCategories
{
    /// <summary>
    /// Must allocate nothing per operation: the CI smoke run fails if it does, and any increase of
    /// allocated bytes between two commits is a regression.
    /// </summary>
    public const string ZeroAlloc = "ZeroAlloc";

    /// <summary>
    /// Runs on more than one thread (producer/consumer hand-offs, end-to-end pipelines). Its time
    /// depends on how far apart the two cores are at the moment, so <c>ipi perf compare</c>
    /// compares it only between samples taken in the same calibration state, and a slowdown warns
    /// instead of failing unless <c>--gate-cross-thread</c> is given.
    /// </summary>
    public const string CrossThread = "CrossThread";

    /// <summary>
    /// Area of the reference implementations (Channels, ConcurrentQueue). Not the engine's hot path:
    /// its allocations are reported, never gated.
    /// </summary>
    public const string Baselines = "Baselines";
}
