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
    /// its allocations are reported, never gated. Treated as cross-thread.
    /// </summary>
    public const string Baselines = "Baselines";

    /// <summary>Area of the whole-engine benchmarks (threads posting, pipeline threads consuming). Treated as cross-thread.</summary>
    public const string EndToEnd = "EndToEnd";

    /// <summary>
    /// True for a benchmark whose time depends on the calibration state: tagged
    /// <see cref="CrossThread"/>, or in an area whose benchmarks hand work between threads
    /// (<see cref="EndToEnd"/>, <see cref="Baselines"/>). Erring this way only costs comparisons
    /// across states; erring the other way reports regressions that are a state switch.
    /// </summary>
    public static bool IsCrossThread(IEnumerable<string> categories)
    {
        ArgumentNullException.ThrowIfNull(categories);
        foreach (var category in categories)
        {
            if (string.Equals(category, CrossThread, StringComparison.OrdinalIgnoreCase)
                || string.Equals(category, EndToEnd, StringComparison.OrdinalIgnoreCase)
                || string.Equals(category, Baselines, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}
