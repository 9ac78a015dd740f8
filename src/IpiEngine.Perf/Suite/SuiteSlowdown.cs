using System.Globalization;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// The benchmark-only slowdown switch: with <see cref="EnvironmentVariable"/> set to a percentage,
/// the suite's instrumented benchmarks run a known amount slower on identical code: single-threaded
/// ones do that much more of their own work per invocation (<see cref="ExtraOperations"/>),
/// cross-thread ones spin for that part of each invocation's own time after it. <c>ipi perf aa --slowdown</c> sets it
/// on one side to measure how often the suite catches a real regression. Only the benchmark
/// harness reads it; no shipped code path does.
/// </summary>
public static class SuiteSlowdown
{
    /// <summary>The environment variable the benchmark harness reads.</summary>
    public const string EnvironmentVariable = "IPI_BENCH_SLOWDOWN";

    /// <summary>The largest slowdown accepted: 400%, five times as slow.</summary>
    public const double MostFraction = 4;

    /// <summary>Parses <c>10%</c> (or <c>0%</c>) into 0.10.</summary>
    /// <exception cref="PerfInputException">Not a percentage from 0% to 400%.</exception>
    public static double Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.EndsWith('%')
            && double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double percent)
            && percent >= 0 && percent / 100 <= MostFraction)
        {
            return percent / 100;
        }
        throw new PerfInputException($"{source} '{text}' is not a slowdown from 0% to 400% like 10%.");
    }

    /// <summary>
    /// How many more operations an invocation of <paramref name="operations"/> runs to be <paramref name="fraction"/>
    /// slower per reported operation: 102 for 1024 at 10% (9.96%), 0 when off. Extra work of the benchmark's own kind
    /// is a slowdown of exactly the code measured, where a spin is other code beside it.
    /// </summary>
    public static int ExtraOperations(int operations, double fraction)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(operations);
        if (!(fraction >= 0 && fraction <= MostFraction))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "A slowdown from 0 to 4 (400%).");
        }

        return (int)Math.Round(operations * fraction, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// The value that switches the slowdown off and is as long as <paramref name="slowed"/> (<c>00%</c> for <c>10%</c>), for
    /// the side that is not slowed. Both sides then carry the same variable, of the same size, and read it through the
    /// same code; with the variable on one side only, that side alone parsed a value at start-up, and a detection run
    /// (2026-12-05, far) held A and B at levels 30% apart in some rounds and not in others.
    /// </summary>
    public static string Unslowed(string slowed)
    {
        ArgumentNullException.ThrowIfNull(slowed);
        return new string('0', Math.Max(1, slowed.Trim().Length - 1)) + "%";
    }

    /// <summary>The slowdown set in this process's environment: 0 when unset.</summary>
    /// <exception cref="PerfInputException">The variable is set but is not a percentage.</exception>
    public static double FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(text) ? 0 : Parse(text, EnvironmentVariable);
    }
}
