using System.Globalization;

namespace IpiEngine.Perf.Suite;

/// <summary>How many rounds <c>compare-commits</c> runs, and whether they fit the time budget.</summary>
/// <param name="Rounds">Rounds to run in all (each one launch of A and one of B).</param>
/// <param name="Estimated">Estimated total time, builds and rounds done included.</param>
/// <param name="WithinBudget">False when even the fewest rounds that can give a verdict take longer than the budget.</param>
/// <param name="Line">The plan in one line, for the progress log.</param>
public sealed record BudgetPlan(int Rounds, TimeSpan Estimated, bool WithinBudget, string Line);

/// <summary>
/// Fits the rounds of <c>compare-commits</c> into a time budget. The cost of a round is measured,
/// not guessed: the first round runs, and the rounds that fit in what is left of the budget at the
/// average round time follow, re-planned after every round. Never fewer than the test's minimum
/// (fewer could not give a verdict at all), never more than a cap (more rounds add little
/// evidence once the launch spread is known).
/// </summary>
public static class BudgetPlanner
{
    /// <summary>The default budget: what a user waits for a pre-merge check.</summary>
    public static TimeSpan DefaultBudget { get; } = TimeSpan.FromMinutes(15);

    /// <summary>The most rounds an automatic plan runs.</summary>
    public const int MostRounds = 20;

    /// <summary>
    /// The most rounds a plan runs once the rounds run only the undecided benchmarks: the noisiest ones need about
    /// 30 rounds for the equivalence test to call them the same (a spread of 12% per round against a 5% threshold),
    /// and such rounds are short.
    /// </summary>
    public const int MostFocusedRounds = 60;

    /// <summary>
    /// Plans the rounds after <paramref name="roundsDone"/> rounds took <paramref name="roundTime"/>
    /// on average and <paramref name="spent"/> has gone by in all (builds included).
    /// </summary>
    public static BudgetPlan Plan(TimeSpan budget, TimeSpan spent, TimeSpan roundTime, int roundsDone, int minimumRounds, int mostRounds = MostRounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(roundsDone, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumRounds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mostRounds, minimumRounds);
        if (roundTime <= TimeSpan.Zero)
        {
            roundTime = TimeSpan.FromSeconds(1);
        }
        var left = budget - spent;
        int fit = left <= TimeSpan.Zero ? 0 : (int)(left.Ticks / roundTime.Ticks);
        int rounds = Math.Clamp(roundsDone + fit, Math.Max(minimumRounds, roundsDone), Math.Max(mostRounds, roundsDone));
        var estimated = spent + (roundTime * (rounds - roundsDone));
        bool within = estimated <= budget;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"plan: {rounds} rounds ({2 * rounds} launches); a round takes about {Duration(roundTime)}, so the run takes about {Duration(estimated)} of the {Duration(budget)} budget");
        if (!within)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $"; {minimumRounds} rounds are the fewest that can give a verdict, which is over budget (narrow --filter or raise --budget)");
        }
        return new BudgetPlan(rounds, estimated, within, line);
    }

    /// <summary>Time left at the average launch time so far (zero before the first launch ends).</summary>
    public static TimeSpan Remaining(TimeSpan launchesTime, int launchesDone, int launchesTotal)
    {
        if (launchesDone <= 0 || launchesTotal <= launchesDone)
        {
            return TimeSpan.Zero;
        }
        return launchesTime / launchesDone * (launchesTotal - launchesDone);
    }

    /// <summary>A duration as <c>12m05s</c> or <c>40s</c>.</summary>
    public static string Duration(TimeSpan time) => time.TotalMinutes >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalMinutes}m{time.Seconds:00}s")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)Math.Round(time.TotalSeconds))}s");

    /// <summary>Parses a budget like <c>15m</c>, <c>90s</c>, <c>1h</c> or <c>20</c> (minutes).</summary>
    /// <exception cref="PerfInputException">Not a positive duration.</exception>
    public static TimeSpan ParseBudget(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        (string Suffix, double Seconds)[] units = [("h", 3600), ("m", 60), ("s", 1), ("", 60)];
        foreach (var (suffix, seconds) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && value > 0 && value * seconds <= TimeSpan.FromDays(7).TotalSeconds)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }
        throw new PerfInputException($"--budget '{text}' is not a duration like 15m, 90s or 1h.");
    }
}
