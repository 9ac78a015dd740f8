using System.Globalization;

namespace IpiEngine.Cli.Run;

/// <summary>Parses the numeric spellings <c>ipi run</c> accepts, each failure as one sentence naming the option.</summary>
internal static class OptionValues
{
    /// <summary>Longest run accepted (a day).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(1);

    /// <summary>Parses <c>10</c>, <c>10s</c>, <c>0.3s</c>, <c>300ms</c>, <c>250us</c> (or <c>250µs</c>), <c>2m</c>; positive, or zero when <paramref name="allowZero"/>.</summary>
    public static TimeSpan Duration(string option, string text, bool allowZero = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        // Ticks per unit, and the arithmetic in decimal: 100 x 0.000001 s in floating point is a fraction of a tick
        // short of 100 µs, and TimeSpan.FromSeconds(double) kept 99.9 µs.
        var (number, ticksPerUnit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], TimeSpan.TicksPerMillisecond)
            : t.EndsWith("us", StringComparison.Ordinal) || t.EndsWith("µs", StringComparison.Ordinal) ? (t[..^2], TimeSpan.TicksPerMicrosecond)
            : t.EndsWith('s') ? (t[..^1], TimeSpan.TicksPerSecond)
            : t.EndsWith('m') ? (t[..^1], TimeSpan.TicksPerMinute)
            : (t, TimeSpan.TicksPerSecond);
        var ticks = decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            && value <= MaxDuration.Ticks / ticksPerUnit
            ? (long)Math.Round(value * ticksPerUnit, MidpointRounding.AwayFromZero)
            : -1;
        if (ticks < 0 || (ticks == 0 && !allowZero))
        {
            throw new RunInputException($"{option} must be a positive time such as 10s, 0.3s or 500ms (at most a day), not '{text}'.");
        }

        return TimeSpan.FromTicks(ticks);
    }

    /// <summary>Parses a whole number from 1 to <paramref name="max"/>.</summary>
    public static long Positive(string option, string text, long max)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
        if (!long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < 1 || value > max)
        {
            throw new RunInputException($"{option} must be a whole number from 1 to {max.ToString("N0", CultureInfo.InvariantCulture)}, not '{text}'.");
        }

        return value;
    }

    /// <summary>Parses a count that may carry a k, M or G suffix (thousands, millions, billions).</summary>
    public static double Scaled(string option, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        var scale = t.Length == 0 ? 1m : t[^1] switch { 'k' or 'K' => 1e3m, 'm' or 'M' => 1e6m, 'g' or 'G' => 1e9m, _ => 1m };
        if (scale != 1m)
        {
            t = t[..^1];
        }

        // In decimal: 4.1 x 1e6 in floating point is 4,099,999.9999999995, which --nodes 2 could not share equally.
        if (!decimal.TryParse(t, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            || value <= 0 || value > decimal.MaxValue / scale)
        {
            throw new RunInputException($"{option} must be a positive number such as 500000, 250k or 5M, not '{text}'.");
        }

        return (double)(value * scale);
    }
}
