using System.Globalization;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Comparison;

/// <summary>How the machine's core distance looked across one side's records.</summary>
public sealed record CalibrationSummary
{
    /// <summary>Benchmarks measured near.</summary>
    public int Near { get; init; }

    /// <summary>Benchmarks measured far.</summary>
    public int Far { get; init; }

    /// <summary>Benchmarks during which the state switched.</summary>
    public int Mixed { get; init; }

    /// <summary>Benchmarks with no usable reading.</summary>
    public int Unknown { get; init; }

    /// <summary>Median of every probe reading, ns (null: none).</summary>
    public double? MedianRoundTripNs { get; init; }

    /// <summary>The near/far split used.</summary>
    public double NearBelowNs { get; init; }

    /// <summary>Counts the states of every benchmark in <paramref name="records"/>.</summary>
    public static CalibrationSummary Of(IEnumerable<PerfRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        int near = 0, far = 0, mixed = 0, unknown = 0;
        double nearBelow = CoreDistanceThresholds.Default.NearBelowNs;
        var readings = new List<double>();
        foreach (var record in records)
        {
            nearBelow = record.Run.Calibration.NearBelowNs;
            foreach (var benchmark in record.Benchmarks)
            {
                switch (benchmark.Calibration.State)
                {
                    case CoreDistanceState.Near: near++; break;
                    case CoreDistanceState.Far: far++; break;
                    case CoreDistanceState.Mixed: mixed++; break;
                    default: unknown++; break;
                }
                if (benchmark.Calibration.BeforeNs is { } before)
                {
                    readings.Add(before);
                }
                if (benchmark.Calibration.AfterNs is { } after)
                {
                    readings.Add(after);
                }
            }
        }
        return new CalibrationSummary
        {
            Near = near,
            Far = far,
            Mixed = mixed,
            Unknown = unknown,
            MedianRoundTripNs = readings.Count == 0 ? null : SampleTest.Median(readings),
            NearBelowNs = nearBelow,
        };
    }

    /// <summary>For example <c>near 12, far 3, mixed 1, unknown 0 benchmarks; round trip median 58 ns (near &lt; 150 ns)</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"near {Near}, far {Far}, mixed {Mixed}, unknown {Unknown} benchmarks; round trip median {(MedianRoundTripNs is { } ns ? $"{ns:0} ns" : "n/a")} (near < {NearBelowNs:0} ns)");
}
