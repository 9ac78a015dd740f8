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
    /// Runs on one thread although its area counts as cross-thread (the <c>Pipeline</c> area's inline passes, which post
    /// and drain on the measuring thread): compared by the single-threaded policy (<c>--threshold</c>, <c>--noise</c>),
    /// in any core state. Without it, a one-thread benchmark of a few ns per IPI is held to the cross-thread floor (1 ns:
    /// ±25.7 % at 3.9 ns), and a gain of 19 % in every round reads "same". <see cref="CrossThread"/> wins over it.
    /// </summary>
    public const string SingleThread = "SingleThread";

    /// <summary>
    /// Area of the reference implementations (Channels, ConcurrentQueue). Not the engine's hot path:
    /// its allocations are reported, never gated.
    /// </summary>
    public const string Baselines = "Baselines";

    /// <summary>
    /// Areas whose benchmarks hand work to another thread (a pipeline, processor or consumer thread
    /// runs behind the measured one), so they count as cross-thread without a tag; tag the few that
    /// do not <see cref="SingleThread"/>. The <c>Rings</c> area mixes both kinds: tag its
    /// cross-thread benchmarks.
    /// </summary>
    public static IReadOnlyList<string> CrossThreadAreas { get; } = ["EndToEnd", Baselines, "Pipeline", "Native", "Transport"];

    /// <summary>
    /// True for a benchmark whose time depends on the calibration state: tagged
    /// <see cref="CrossThread"/>, or in one of the <see cref="CrossThreadAreas"/> and not tagged
    /// <see cref="SingleThread"/>. Erring this way only costs comparisons across states (and hides
    /// shifts under the cross-thread floor); erring the other way reports a state switch as a
    /// regression.
    /// </summary>
    public static bool IsCrossThread(IEnumerable<string> categories)
    {
        ArgumentNullException.ThrowIfNull(categories);
        bool inArea = false, singleThread = false;
        foreach (var category in categories)
        {
            if (string.Equals(category, CrossThread, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
            singleThread |= string.Equals(category, SingleThread, StringComparison.OrdinalIgnoreCase);
            foreach (var area in CrossThreadAreas)
            {
                inArea |= string.Equals(category, area, StringComparison.OrdinalIgnoreCase);
            }
        }
        return inArea && !singleThread;
    }
}
