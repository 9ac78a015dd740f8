using System.Globalization;
using IpiEngine.Perf.Calibration;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// Compares one benchmark between two sides measured by the interleaved runner: in each round, A's
/// and B's blocks ran in pairs next to each other in time, so the round's observation is the median
/// over its pairs of log(B block / A block), in which the machine's slow swings of speed cancel.
/// Rounds (each a new pair of processes) are the unit; rounds whose pairs changed core state, or
/// that one side lacks, are left out. A sign-flip permutation test on the mean of those per-round
/// log ratios is run against the practical threshold δ:
/// <list type="bullet">
/// <item>slower: the mean exceeds +δ at level α (H0: mean ≤ +δ);</item>
/// <item>faster: it is below −δ at level α;</item>
/// <item>same: both one-sided tests put it inside ±δ at the equivalence level (0.05 by default; TOST);</item>
/// <item>otherwise not enough evidence, with an estimate of how many more rounds would decide.</item>
/// </list>
/// </summary>
/// <remarks>
/// Why it cannot cry wolf on identical code: with identical code each round's log ratio is
/// symmetric about zero (the pair's order alternates, A B then B A), so flipping its sign is an
/// exact relabelling, and a verdict needs the mean beyond ±δ and improbable under every flip.
/// With up to <see cref="ExactRounds"/> rounds every flip is enumerated; beyond, flips are drawn
/// from a fixed seed, so the same rounds always give the same verdict. The fewest rounds that can
/// reach α are those with 2^-n ≤ α: 7 at α = 0.01.
/// </remarks>
internal sealed class PairedTest(double alpha, int draws = 10_000, int seed = 20, double equivalenceAlpha = LaunchTest.DefaultEquivalenceAlpha)
{
    /// <summary>Up to this many rounds the sign flips are enumerated, not drawn.</summary>
    public const int ExactRounds = 14;

    /// <summary>The test's significance level per one-sided test.</summary>
    public double Alpha { get; } = TestLevel.CheckedAlpha(alpha);

    private readonly int _draws = TestLevel.DrawsFor(TestLevel.CheckedAlpha(alpha), draws); // the p floor under α / 10

    /// <summary>The level of the equivalence test (<see cref="LaunchTest.DefaultEquivalenceAlpha"/> says why it differs).</summary>
    public double EquivalenceAlpha { get; } = TestLevel.Checked(equivalenceAlpha, "--equivalence-alpha");

    /// <summary>Fewest rounds with which the sign-flip test can reach <see cref="Alpha"/> at all.</summary>
    public int MinimumRounds
    {
        get
        {
            int n = 1;
            while (Math.Pow(0.5, n) > Alpha)
            {
                n++;
            }
            return n;
        }
    }

    /// <summary>Compares the rounds of <paramref name="baseLaunches"/> with those of <paramref name="diffLaunches"/> against <paramref name="threshold"/>.</summary>
    public LaunchFinding Compare(IReadOnlyList<LaunchObservation> baseLaunches, IReadOnlyList<LaunchObservation> diffLaunches, PracticalThreshold threshold)
    {
        ArgumentNullException.ThrowIfNull(baseLaunches);
        ArgumentNullException.ThrowIfNull(diffLaunches);
        var ratios = new List<double>();
        var states = new SortedDictionary<CoreDistanceState, int>();
        var byRound = diffLaunches.Where(l => l.Round is not null).GroupBy(l => l.Round!.Value).ToDictionary(g => g.Key, g => g.First());
        foreach (var launch in baseLaunches)
        {
            if (launch.Round is not { } round || !byRound.TryGetValue(round, out var other)
                || launch.State != other.State || launch.State == CoreDistanceState.Mixed
                || RoundRatio(launch.Blocks, other.Blocks) is not { } ratio)
            {
                continue;
            }
            ratios.Add(ratio);
            states[launch.State] = states.GetValueOrDefault(launch.State) + 1;
        }
        int leftOut = baseLaunches.Count + diffLaunches.Count - (2 * ratios.Count);
        string stateText = string.Join(", ", states.Select(s => $"{RunComparer.StateName(s.Key)} {s.Value}"));
        var leftOutNote = leftOut == 0 ? "" : $"; {leftOut} launch(es) left out (state changed, or no paired round of the other side)";
        double baseNs = SampleTest.Median(baseLaunches.Select(l => l.MedianNs).Where(double.IsFinite).ToList());
        double relative = threshold.RelativeFor(double.IsFinite(baseNs) ? baseNs : 0);
        double delta = Math.Log(1 + relative);
        int minimum = MinimumRounds;
        string each = string.Join(" ", ratios.Select(r => LaunchTest.SignedPercent((Math.Exp(r) - 1) * 100)));
        string over = Invariant($"over {ratios.Count} paired round(s) ({stateText}; each round {each} %){leftOutNote}");
        if (ratios.Count < minimum)
        {
            int more = minimum - ratios.Count;
            return new LaunchFinding
            {
                Outcome = TimeOutcome.NotEnoughEvidence,
                EstimatedRatio = ratios.Count == 0 ? double.NaN : Math.Exp(ratios.Average()),
                ThresholdRelative = relative,
                BaseUsed = ratios.Count,
                DiffUsed = ratios.Count,
                LeftOut = leftOut,
                States = stateText,
                MoreRounds = more,
                Reason = Invariant($"not enough evidence: {ratios.Count} paired round(s), {minimum} are the fewest that can decide at alpha {Alpha}; about {more} more round(s) would allow a verdict{leftOutNote}"),
            };
        }

        double mean = ratios.Average();
        double pSlower = PValue(ratios, delta, upper: true);
        double pSameUpper = PValue(ratios, delta, upper: false);
        double pFaster = PValue(ratios, -delta, upper: false);
        double pSameLower = PValue(ratios, -delta, upper: true);
        double pSame = Math.Max(pSameUpper, pSameLower);
        var finding = new LaunchFinding
        {
            EstimatedRatio = Math.Exp(mean),
            ThresholdRelative = relative,
            PSlower = pSlower,
            PFaster = pFaster,
            PSame = pSame,
            BaseUsed = ratios.Count,
            DiffUsed = ratios.Count,
            LeftOut = leftOut,
            States = stateText,
        };
        return LaunchTest.Decide(finding, Alpha, EquivalenceAlpha, over, () => MoreRoundsNeeded(ratios, mean, delta, minimum), "rounds");
    }

    /// <summary>The median over a round's pairs of log(diff block / base block); null when the round has no usable pair.</summary>
    internal static double? RoundRatio(IReadOnlyList<double>? baseBlocks, IReadOnlyList<double>? diffBlocks)
    {
        if (baseBlocks is null || diffBlocks is null || baseBlocks.Count != diffBlocks.Count)
        {
            return null;
        }
        var logs = new List<double>(baseBlocks.Count);
        for (int i = 0; i < baseBlocks.Count; i++)
        {
            if (baseBlocks[i] > 0 && diffBlocks[i] > 0 && double.IsFinite(baseBlocks[i]) && double.IsFinite(diffBlocks[i]))
            {
                logs.Add(Math.Log(diffBlocks[i] / baseBlocks[i]));
            }
        }
        return logs.Count == 0 ? null : SampleTest.Median(logs);
    }

    /// <summary>
    /// The sign-flip p-value of the mean of <c>ratios − shift</c>: the share of sign vectors whose
    /// flipped mean is at least (<paramref name="upper"/>) or at most the observed one.
    /// </summary>
    private double PValue(List<double> ratios, double shift, bool upper)
    {
        int n = ratios.Count;
        var centered = ratios.Select(r => r - shift).ToArray();
        double observed = centered.Sum();
        // A tolerance keeps floating-point ties (flips that give the observed sum) counted as ties.
        double tolerance = 1e-12 * Math.Max(1, centered.Sum(Math.Abs));
        if (n <= ExactRounds)
        {
            long count = 0, total = 1L << n;
            for (long signs = 0; signs < total; signs++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += (signs & (1L << i)) == 0 ? centered[i] : -centered[i];
                }
                if (upper ? sum >= observed - tolerance : sum <= observed + tolerance)
                {
                    count++;
                }
            }
            return (double)count / total;
        }
        var random = new Random(seed);
        int hits = 0;
        for (int d = 0; d < _draws; d++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                sum += random.Next(2) == 0 ? centered[i] : -centered[i];
            }
            if (upper ? sum >= observed - tolerance : sum <= observed + tolerance)
            {
                hits++;
            }
        }
        return (1.0 + hits) / (1.0 + _draws);
    }

    /// <summary>
    /// Rounds a one-sample test needs to see <paramref name="mean"/> on its side of ±<paramref name="delta"/>
    /// at level α with 80% power, from the rounds' robust spread (1.4826 × median absolute deviation);
    /// minus the rounds there are. Null when that is beyond <see cref="LaunchTest.MostRoundsAdvised"/> more.
    /// </summary>
    private int? MoreRoundsNeeded(List<double> ratios, double mean, double delta, int minimum)
    {
        double center = SampleTest.Median(ratios);
        double sigma = 1.4826 * SampleTest.Median(ratios.ConvertAll(r => Math.Abs(r - center)));
        double margin = Math.Abs(Math.Abs(mean) - delta);
        double quantile = LaunchTest.NormalQuantile(1 - Alpha) + 0.8416;
        double needed = sigma <= 0 ? minimum : Math.Pow(quantile * sigma / Math.Max(margin, 1e-12), 2);
        if (needed > ratios.Count + LaunchTest.MostRoundsAdvised)
        {
            return null;
        }
        return Math.Max(1, (int)Math.Ceiling(Math.Max(needed, minimum)) - ratios.Count);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
