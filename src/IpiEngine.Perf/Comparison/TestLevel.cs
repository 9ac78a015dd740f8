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

    /// <summary>
    /// The strictest <c>--alpha</c> taken: the permutation and sign-flip tests estimate p from random relabellings,
    /// whose smallest p-value is 1 / (draws + 1), so a stricter level needs ever more draws (and below about 1e-6 the
    /// planner's round counts) to be reachable at all; slower and faster were unreachable below 2.5e-4 before the draws
    /// grew with the level.
    /// </summary>
    public const double StrictestAlpha = 1e-4;

    /// <summary>Returns <paramref name="level"/> when it is a slower/faster test level from <see cref="StrictestAlpha"/> to below 0.5.</summary>
    /// <exception cref="PerfInputException">It is not; the sentence names <c>--alpha</c> and the value as given.</exception>
    public static double CheckedAlpha(double level) => level is >= StrictestAlpha and < 0.5
        ? level
        : throw new PerfInputException(level is > 0 and < StrictestAlpha
            ? $"--alpha must be at least {StrictestAlpha.ToString(CultureInfo.InvariantCulture)} (the tests' random relabellings cannot reach a stricter level), not {level.ToString(CultureInfo.InvariantCulture)}."
            : $"--alpha must be between 0 and 0.5, not {level.ToString(CultureInfo.InvariantCulture)}.");

    /// <summary>
    /// Random relabellings enough for a p-value of <paramref name="alpha"/> to be reached with room: at least
    /// <paramref name="atLeast"/>, and at least 10 / α, so the smallest p-value, 1 / (draws + 1), is under α / 10.
    /// </summary>
    public static int DrawsFor(double alpha, int atLeast) => Math.Max(atLeast, (int)Math.Ceiling(10 / alpha));
}
