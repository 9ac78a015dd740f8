namespace IpiEngine.Perf.Suite;

/// <summary>Which side of a <c>compare-commits</c> run a launch measures.</summary>
public enum Side
{
    /// <summary>The baseline commit.</summary>
    A,

    /// <summary>The commit under test.</summary>
    B,
}

/// <summary>
/// The order of launches in <c>compare-commits</c>: each round runs one launch of each side, and
/// the order flips every round (A B, B A, A B, ...: ABBA). A slow drift of the machine (a state
/// that builds up, a neighbour that starts) then lands on both sides equally instead of always on
/// the side that runs second.
/// </summary>
public static class LaunchSchedule
{
    /// <summary>The two launches of round <paramref name="round"/> (1-based), in run order.</summary>
    public static (Side First, Side Second) Round(int round)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(round, 1);
        return round % 2 == 1 ? (Side.A, Side.B) : (Side.B, Side.A);
    }

    /// <summary>Every launch of <paramref name="rounds"/> rounds, in run order, with its round.</summary>
    public static IReadOnlyList<(int Round, Side Side)> Launches(int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rounds);
        var launches = new List<(int, Side)>(2 * rounds);
        for (int round = 1; round <= rounds; round++)
        {
            var (first, second) = Round(round);
            launches.Add((round, first));
            launches.Add((round, second));
        }
        return launches;
    }
}
