using System.Globalization;

namespace IpiEngine.Perf.Comparison;

/// <summary>The one check of a test level option (<c>--alpha</c>, <c>--equivalence-alpha</c>) that every test makes.</summary>
internal static class TestLevel
{
    /// <summary>Returns <paramref name="level"/> when it is a one-sided test level (above 0, below 0.5).</summary>
    /// <exception cref="PerfInputException">It is not; the sentence names <paramref name="option"/> and the value as given.</exception>
    public static double Checked(double level, string option) => level is > 0 and < 0.5
        ? level
        : throw new PerfInputException($"{option} must be between 0 and 0.5, not {level.ToString(CultureInfo.InvariantCulture)}.");
}
