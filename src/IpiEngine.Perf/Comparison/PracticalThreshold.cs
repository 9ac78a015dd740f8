using System.Globalization;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// The smallest change worth a verdict: a relative part of the base time and an absolute floor;
/// whichever is larger applies (so 2.0 ns against 2.2 ns is no change when the floor is 0.5 ns).
/// Single-threaded and cross-thread benchmarks get their own, because cross-thread times wander more.
/// </summary>
/// <param name="Relative">Relative threshold, 0.05 for 5%.</param>
/// <param name="AbsoluteNs">Absolute floor in ns per operation.</param>
public readonly record struct PracticalThreshold(double Relative, double AbsoluteNs)
{
    /// <summary>The threshold for a benchmark whose base time is <paramref name="baseNs"/>, as a relative change.</summary>
    public double RelativeFor(double baseNs) =>
        baseNs > 0 ? Math.Max(Relative, AbsoluteNs / baseNs) : Relative;

    /// <summary>For example <c>5% or 0.25 ns</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Relative * 100:0.##}% or {AbsoluteNs:0.##} ns");

    /// <summary>Parses a relative threshold (<c>5%</c>) and an absolute one (<c>0.25ns</c>, <c>1 ns</c>, <c>0.5us</c>).</summary>
    /// <exception cref="PerfInputException">Either text is not a threshold.</exception>
    public static PracticalThreshold Parse(string relative, string absolute, string relativeOption, string absoluteOption)
    {
        ArgumentNullException.ThrowIfNull(relative);
        ArgumentNullException.ThrowIfNull(absolute);
        var text = relative.Trim();
        if (!text.EndsWith('%')
            || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double percent)
            || percent is <= 0 or >= 100)
        {
            throw new PerfInputException($"{relativeOption} '{relative}' is not a percentage between 0% and 100% like 5%.");
        }
        return new PracticalThreshold(percent / 100, ParseNanoseconds(absolute, absoluteOption));
    }

    private static double ParseNanoseconds(string text, string option)
    {
        var trimmed = text.Trim();
        (string suffix, double scale)[] units = [("ns", 1), ("us", 1e3), ("ms", 1e6)];
        foreach (var (suffix, scale) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^suffix.Length].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && value >= 0 && double.IsFinite(value))
            {
                return value * scale;
            }
        }
        throw new PerfInputException($"{option} '{text}' is not a time like 0.25ns, 2ns or 1us.");
    }
}
