using Perfolizer.Horology;
using Perfolizer.Mathematics.Common;
using Perfolizer.Mathematics.Multimodality;
using Perfolizer.Mathematics.SignificanceTesting;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;
using Perfolizer.Metrology;
using Pragmastat;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// The statistics of one comparison, all Perfolizer's: a Mann–Whitney equivalence test run twice,
/// against the relative threshold and against the absolute noise floor; a change counts only when
/// both agree (the dotnet/performance ResultsComparer policy).
/// </summary>
internal sealed class SampleTest
{
    private static readonly SimpleEquivalenceTest EquivalenceTest = new(MannWhitneyTest.Instance);
    private readonly Threshold _threshold;
    private readonly Threshold _noiseFloor;
    private readonly SignificanceLevel _alpha;
    private readonly int _minSamples;

    /// <summary>Parses the thresholds.</summary>
    /// <exception cref="PerfInputException">A threshold is not in BenchmarkDotNet syntax.</exception>
    public SampleTest(ComparisonOptions options)
    {
        _threshold = ParseThreshold(options.Threshold, "--threshold");
        _noiseFloor = ParseThreshold(options.NoiseFloor, "--noise");
        _alpha = new SignificanceLevel(TestLevel.CheckedAlpha(options.Alpha));
        _minSamples = Math.Max(2, options.MinSamples);
    }

    /// <summary>Compares base and diff samples (ns per operation; bigger is slower).</summary>
    public TimeOutcome Compare(IReadOnlyList<double> baseSamples, IReadOnlyList<double> diffSamples)
    {
        if (baseSamples.Count < _minSamples || diffSamples.Count < _minSamples)
        {
            return TimeOutcome.Unknown;
        }
        var x = new Sample(baseSamples, TimeUnit.Nanosecond);
        var y = new Sample(diffSamples, TimeUnit.Nanosecond);
        var relative = EquivalenceTest.Perform(x, y, _threshold, _alpha);
        var absolute = EquivalenceTest.Perform(x, y, _noiseFloor, _alpha);
        // With x = base and y = diff, Lesser means base < diff: the diff takes longer.
        return (relative, absolute) switch
        {
            (ComparisonResult.Lesser, ComparisonResult.Lesser) => TimeOutcome.Slower,
            (ComparisonResult.Greater, ComparisonResult.Greater) => TimeOutcome.Faster,
            (ComparisonResult.Unknown, _) or (_, ComparisonResult.Unknown) => TimeOutcome.Unknown,
            _ => TimeOutcome.Same,
        };
    }

    /// <summary>
    /// BenchmarkDotNet's modality hint from the mvalue (only from 12 samples on): multimodal above
    /// 4.2, bimodal above 3.2, "several?" above 2.8, otherwise empty.
    /// </summary>
    public static string Modality(IReadOnlyList<double> samples)
    {
        if (samples.Count < 12)
        {
            return "";
        }
        double mvalue = MValueCalculator.Calculate([.. samples]);
        return mvalue switch
        {
            > 4.2 => "multimodal",
            > 3.2 => "bimodal",
            > 2.8 => "several?",
            _ => "",
        };
    }

    /// <summary>The median of a sample set (0 for none).</summary>
    public static double Median(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0)
        {
            return 0;
        }
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static Threshold ParseThreshold(string text, string option) =>
        Threshold.TryParse(text, out var threshold)
            ? threshold
            : throw new PerfInputException($"{option} '{text}' is not a threshold like 5% or 1ns.");
}
