using System.Globalization;
using IpiEngine.Perf.Calibration;

namespace IpiEngine.Perf.Comparison;

/// <summary>What <see cref="LaunchTest"/> concluded for one benchmark, with the evidence behind it.</summary>
public sealed record LaunchFinding
{
    /// <summary>Slower, faster, same, or not enough evidence.</summary>
    public TimeOutcome Outcome { get; init; }

    /// <summary>Estimated diff/base time ratio (the Hodges–Lehmann shift of the log launch medians, combined over states); NaN without evidence.</summary>
    public double EstimatedRatio { get; init; } = double.NaN;

    /// <summary>The practical threshold that applied, relative (0.05 = 5%).</summary>
    public double ThresholdRelative { get; init; }

    /// <summary>One-sided p-value that the diff is slower by more than the threshold.</summary>
    public double PSlower { get; init; } = 1;

    /// <summary>One-sided p-value that the diff is faster by more than the threshold.</summary>
    public double PFaster { get; init; } = 1;

    /// <summary>p-value of the equivalence (both one-sided tests that the shift is inside the threshold; the larger).</summary>
    public double PSame { get; init; } = 1;

    /// <summary>Base launches used.</summary>
    public int BaseUsed { get; init; }

    /// <summary>Diff launches used.</summary>
    public int DiffUsed { get; init; }

    /// <summary>Launches left out: their state changed during the launch, or the other side has no launch in their state.</summary>
    public int LeftOut { get; init; }

    /// <summary>The states compared, with launches per side, e.g. <c>near 3+4, far 5+4</c>.</summary>
    public string States { get; init; } = "";

    /// <summary>Rounds (one more launch per side each) that would likely decide; null when not needed or beyond reach.</summary>
    public int? MoreRounds { get; init; }

    /// <summary>The verdict's reason in one line.</summary>
    public string Reason { get; init; } = "";
}

/// <summary>
/// Compares one benchmark between two sides by its launches: each launch's median is one
/// observation, launches whose core state changed are left out, and the sides are compared only
/// within each state (near with near, far with far, unknown with unknown). The test is a
/// stratified permutation test on the Hodges–Lehmann shift of the log launch medians, run against
/// the practical threshold (so it asks "slower by more than 5%?", not "slower at all?"):
/// <list type="bullet">
/// <item>slower: the shift exceeds +threshold at level α (H0: shift ≤ +threshold);</item>
/// <item>faster: the shift is below −threshold at level α;</item>
/// <item>same: both one-sided tests put the shift inside ±threshold at level α (TOST);</item>
/// <item>otherwise not enough evidence, with an estimate of how many more rounds would decide.</item>
/// </list>
/// </summary>
/// <remarks>
/// Why it cannot cry wolf on identical code: under identical code the launches of both sides are
/// exchangeable within a state (that is what alternating A and B per launch buys), so the
/// permutation distribution is exact and a verdict needs a shift beyond the threshold that is
/// also improbable under relabelling; one slow launch moves a median of pairwise differences by
/// at most one rank. Random relabellings come from a fixed seed, so the same launches always give
/// the same verdict.
/// </remarks>
internal sealed class LaunchTest(double alpha, int permutations = 4000, int seed = 20, double equivalenceAlpha = LaunchTest.DefaultEquivalenceAlpha)
{
    /// <summary>
    /// The level of the equivalence ("same") test unless told otherwise: 0.05, the convention of
    /// two one-sided tests (a 90% interval inside ±δ). Slower and faster keep <see cref="Alpha"/>:
    /// they decide whether the suite cries wolf; "same" only turns "not enough evidence" into a
    /// pass. With sign flips over 15 rounds at 0.01, two rounds of fifteen beyond δ on identical
    /// code (+13% and +16% among rounds within ±4%, an A/A run of 2026-12-03) left p same at 0.011.
    /// </summary>
    public const double DefaultEquivalenceAlpha = 0.05;

    /// <summary>Beyond this many more rounds the advice is "would likely not decide", not a number.</summary>
    public const int MostRoundsAdvised = 50;

    // One-sided normal quantiles for the sample-size advice: the test's level and 80% power.
    private static readonly double PowerQuantile = 0.8416;

    /// <summary>The test's significance level per one-sided test.</summary>
    public double Alpha { get; } = TestLevel.CheckedAlpha(alpha);

    private readonly int _permutations = TestLevel.DrawsFor(TestLevel.CheckedAlpha(alpha), permutations); // the p floor under α / 10

    /// <summary>The level of the equivalence test (both one-sided tests of "same").</summary>
    public double EquivalenceAlpha { get; } = TestLevel.Checked(equivalenceAlpha, "--equivalence-alpha");

    /// <summary>Fewest launches per side with which a permutation test can reach <see cref="Alpha"/> at all.</summary>
    public int MinimumLaunches
    {
        get
        {
            // The smallest one-sided p-value of n vs n launches is 1 / C(2n, n); keep a margin of 2 for the random relabelling.
            for (int n = 2; ; n++)
            {
                if (1.0 / Binomial(2 * n, n) <= Alpha / 2)
                {
                    return n;
                }
            }
        }
    }

    /// <summary>Compares <paramref name="baseLaunches"/> with <paramref name="diffLaunches"/> against <paramref name="threshold"/>.</summary>
    public LaunchFinding Compare(IReadOnlyList<LaunchObservation> baseLaunches, IReadOnlyList<LaunchObservation> diffLaunches, PracticalThreshold threshold)
    {
        ArgumentNullException.ThrowIfNull(baseLaunches);
        ArgumentNullException.ThrowIfNull(diffLaunches);
        var strata = Stratify(baseLaunches, diffLaunches, out int leftOut);
        int baseUsed = strata.Sum(s => s.Base.Length);
        int diffUsed = strata.Sum(s => s.Diff.Length);
        string states = string.Join(", ", strata.Select(s => $"{RunComparer.StateName(s.State)} {s.Base.Length}+{s.Diff.Length}"));
        var leftOutNote = leftOut == 0 ? "" : $"; {leftOut} launch(es) left out (state changed, or no launch of the other side in their state)";
        double baseNs = Math.Exp(Median(strata.SelectMany(s => s.Base).ToArray()));
        double relative = threshold.RelativeFor(strata.Count == 0 ? 0 : baseNs);
        double delta = Math.Log(1 + relative);
        int minimum = MinimumLaunches;
        if (strata.Count == 0 || baseUsed < 2 || diffUsed < 2)
        {
            int more = Math.Max(1, minimum - Math.Min(baseUsed, diffUsed));
            return new LaunchFinding
            {
                Outcome = TimeOutcome.NotEnoughEvidence,
                ThresholdRelative = relative,
                BaseUsed = baseUsed,
                DiffUsed = diffUsed,
                LeftOut = leftOut,
                States = states,
                MoreRounds = more,
                Reason = Invariant($"not enough evidence: {baseUsed}+{diffUsed} launches in a shared state; about {more} more round(s) would allow a verdict{leftOutNote}"),
            };
        }

        double estimate = Statistic(strata, 0, null);
        var (pSlower, pSameUpper) = PValues(strata, delta);
        var (pSameLower, pFaster) = PValues(strata, -delta);
        // pSlower: P(T* >= T) with the diff shifted down by the threshold; pFaster: P(T* <= T) shifted up.
        double pSame = Math.Max(pSameUpper, pSameLower);
        var finding = new LaunchFinding
        {
            EstimatedRatio = Math.Exp(estimate),
            ThresholdRelative = relative,
            PSlower = pSlower,
            PFaster = pFaster,
            PSame = pSame,
            BaseUsed = baseUsed,
            DiffUsed = diffUsed,
            LeftOut = leftOut,
            States = states,
        };
        string over = Invariant($"over {baseUsed}+{diffUsed} launches ({states}){leftOutNote}");
        return Decide(finding, Alpha, EquivalenceAlpha, over, () => MoreRoundsNeeded(strata, estimate, delta, Math.Min(baseUsed, diffUsed), minimum), "launches");
    }

    /// <summary>
    /// The verdict from a finding's p-values: slower or faster at level <paramref name="alpha"/>, same
    /// at <paramref name="equivalenceAlpha"/>, or not enough evidence with the advice of <paramref name="moreRounds"/> (asked only then);
    /// <paramref name="over"/> says what the evidence was, <paramref name="spreadOf"/> what spreads.
    /// </summary>
    internal static LaunchFinding Decide(LaunchFinding finding, double alpha, double equivalenceAlpha, string over, Func<int?> moreRounds, string spreadOf)
    {
        string shift = SignedPercent((finding.EstimatedRatio - 1) * 100) + "%";
        string limit = Invariant($"{finding.ThresholdRelative * 100:0.#}%");
        if (finding.PSlower <= alpha)
        {
            return finding with { Outcome = TimeOutcome.Slower, Reason = Invariant($"slower: {shift} beyond the {limit} threshold, p {finding.PSlower:0.0000} {over}") };
        }
        if (finding.PFaster <= alpha)
        {
            return finding with { Outcome = TimeOutcome.Faster, Reason = Invariant($"faster: {shift} beyond the {limit} threshold, p {finding.PFaster:0.0000} {over}") };
        }
        if (finding.PSame <= equivalenceAlpha)
        {
            return finding with { Outcome = TimeOutcome.Same, Reason = Invariant($"same: {shift}, inside ±{limit}, p {finding.PSame:0.0000} {over}") };
        }
        int? more = moreRounds();
        string advice = more is { } k
            ? Invariant($"about {k} more round(s) would decide")
            : Invariant($"even {MostRoundsAdvised} more rounds would likely not decide (the {spreadOf} spread too widely, or the shift sits right at the threshold)");
        return finding with
        {
            Outcome = TimeOutcome.NotEnoughEvidence,
            MoreRounds = more,
            Reason = Invariant($"not enough evidence: {shift} against the {limit} threshold (p slower {finding.PSlower:0.000}, p same {finding.PSame:0.000}) {over}; {advice}"),
        };
    }

    /// <summary>
    /// A percentage with its sign and one decimal. Rounded first (and −0 made +0): a negative value
    /// that rounds to zero would otherwise take the negative section and print as "-+0.0".
    /// </summary>
    internal static string SignedPercent(double percent) => Invariant($"{Math.Round(percent, 1) + 0.0:+0.0;-0.0;+0.0}");

    /// <summary>The launches of both sides grouped by state; mixed launches and states only one side has are left out.</summary>
    private static List<Stratum> Stratify(IReadOnlyList<LaunchObservation> baseLaunches, IReadOnlyList<LaunchObservation> diffLaunches, out int leftOut)
    {
        var strata = new List<Stratum>();
        leftOut = 0;
        foreach (var state in (ReadOnlySpan<CoreDistanceState>)[CoreDistanceState.Near, CoreDistanceState.Far, CoreDistanceState.Unknown, CoreDistanceState.Mixed])
        {
            var a = LogMedians(baseLaunches, state);
            var b = LogMedians(diffLaunches, state);
            if (state == CoreDistanceState.Mixed || a.Length == 0 || b.Length == 0)
            {
                leftOut += a.Length + b.Length;
                continue;
            }
            strata.Add(new Stratum(state, a, b));
        }
        return strata;

        static double[] LogMedians(IReadOnlyList<LaunchObservation> launches, CoreDistanceState state) =>
            launches.Where(l => l.State == state && l.MedianNs > 0 && double.IsFinite(l.MedianNs)).Select(l => Math.Log(l.MedianNs)).ToArray();
    }

    /// <summary>
    /// Permutation p-values of the statistic with the diff shifted down by <paramref name="shift"/>:
    /// (P(T* ≥ T), P(T* ≤ T)), relabelling launches within each state.
    /// </summary>
    private (double Upper, double Lower) PValues(List<Stratum> strata, double shift)
    {
        double observed = Statistic(strata, shift, null);
        var random = new Random(seed);
        var labels = strata.Select(s => new int[s.Base.Length + s.Diff.Length]).ToArray();
        int atLeast = 0, atMost = 0;
        for (int r = 0; r < _permutations; r++)
        {
            for (int s = 0; s < strata.Count; s++)
            {
                var order = labels[s];
                for (int i = 0; i < order.Length; i++)
                {
                    order[i] = i;
                }
                random.Shuffle(order);
            }
            double value = Statistic(strata, shift, labels);
            // A tolerance keeps floating-point ties (relabellings that give the observed value) counted as ties.
            double tolerance = 1e-12 * Math.Max(1, Math.Abs(observed));
            if (value >= observed - tolerance)
            {
                atLeast++;
            }
            if (value <= observed + tolerance)
            {
                atMost++;
            }
        }
        return ((1.0 + atLeast) / (1.0 + _permutations), (1.0 + atMost) / (1.0 + _permutations));
    }

    /// <summary>
    /// The weighted mean over states of each state's Hodges–Lehmann shift (median of all diff − base
    /// differences of log medians), with the diff shifted down by <paramref name="shift"/>. With
    /// <paramref name="labels"/>, the first <c>Base.Length</c> indices of each state's pooled launches
    /// play the base. Weights n·m/(n+m) favour states with launches on both sides.
    /// </summary>
    private static double Statistic(List<Stratum> strata, double shift, int[][]? labels)
    {
        double sum = 0, weights = 0;
        for (int s = 0; s < strata.Count; s++)
        {
            var stratum = strata[s];
            int n = stratum.Base.Length, m = stratum.Diff.Length;
            var differences = new double[n * m];
            int k = 0;
            for (int i = 0; i < n; i++)
            {
                double a = Pooled(stratum, labels?[s][i] ?? i, shift);
                for (int j = 0; j < m; j++)
                {
                    differences[k++] = Pooled(stratum, labels?[s][n + j] ?? n + j, shift) - a;
                }
            }
            double weight = (double)n * m / (n + m);
            sum += weight * Median(differences);
            weights += weight;
        }
        return sum / weights;

        // Index i < n is a base launch, n + j the j-th diff launch (shifted).
        static double Pooled(Stratum stratum, int index, double shift) =>
            index < stratum.Base.Length ? stratum.Base[index] : stratum.Diff[index - stratum.Base.Length] - shift;
    }

    /// <summary>
    /// Launches per side a two-sample test needs to see <paramref name="estimate"/> on its side of
    /// ±<paramref name="delta"/> at level α with 80% power, from the robust launch-to-launch spread
    /// (1.4826 × median absolute deviation within each state and side); minus what there is already.
    /// </summary>
    private int? MoreRoundsNeeded(List<Stratum> strata, double estimate, double delta, int have, int minimum)
    {
        var residuals = new List<double>();
        foreach (var stratum in strata)
        {
            foreach (var group in (double[][])[stratum.Base, stratum.Diff])
            {
                if (group.Length >= 2)
                {
                    double center = Median([.. group]);
                    residuals.AddRange(group.Select(x => Math.Abs(x - center)));
                }
            }
        }
        double sigma = residuals.Count == 0 ? 0 : 1.4826 * Median([.. residuals]);
        double margin = Math.Abs(Math.Abs(estimate) - delta);
        double quantile = NormalQuantile(1 - Alpha) + PowerQuantile;
        double needed = sigma <= 0 ? minimum : 2 * Math.Pow(quantile * sigma / Math.Max(margin, 1e-12), 2);
        if (needed > have + MostRoundsAdvised)
        {
            return null;
        }
        return Math.Max(1, (int)Math.Ceiling(Math.Max(needed, minimum)) - have);
    }

    /// <summary>The standard normal quantile (Acklam's rational approximation, ample for sample-size advice).</summary>
    internal static double NormalQuantile(double p)
    {
        // Only the upper tail is used (p in 0.5..1): the central-region formula with the tail correction.
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        if (p > 0.97575)
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        double u = p - 0.5, r = u * u;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }

    private static double Binomial(int n, int k)
    {
        double result = 1;
        for (int i = 1; i <= k; i++)
        {
            result = result * (n - k + i) / i;
        }
        return result;
    }

    /// <summary>Median, sorting <paramref name="values"/> in place (NaN for none).</summary>
    private static double Median(double[] values)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }
        Array.Sort(values);
        int mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The log launch medians of one state, per side.</summary>
    private sealed record Stratum(CoreDistanceState State, double[] Base, double[] Diff);
}
