namespace IpiEngine.Perf.Calibration;

/// <summary>
/// Where the probe's round trip splits near from far. Written into every record so that a reader
/// knows what a label meant when it was recorded.
/// </summary>
public sealed record CoreDistanceThresholds
{
    /// <summary>
    /// A round trip below this many nanoseconds is near. 150 ns sits between the two states seen on
    /// this project's 2-vCPU VM (about 55 ns and about 350 ns), the same split that
    /// <c>shared/tools/core-distance</c> uses.
    /// </summary>
    public double NearBelowNs { get; init; } = 150;

    /// <summary>The thresholds the tools use today.</summary>
    public static CoreDistanceThresholds Default { get; } = new();

    /// <summary>The state that one round-trip time falls in (unknown for no reading).</summary>
    public CoreDistanceState Classify(double? roundTripNs) => roundTripNs switch
    {
        null => CoreDistanceState.Unknown,
        < 0 => CoreDistanceState.Unknown,
        var ns when ns < NearBelowNs => CoreDistanceState.Near,
        _ => CoreDistanceState.Far,
    };

    /// <summary>
    /// The state of a measurement bracketed by two readings: near or far when both agree, mixed when
    /// they disagree, unknown when either is missing.
    /// </summary>
    public CoreDistanceState Classify(double? beforeNs, double? afterNs)
    {
        var before = Classify(beforeNs);
        var after = Classify(afterNs);
        if (before == CoreDistanceState.Unknown || after == CoreDistanceState.Unknown)
        {
            return CoreDistanceState.Unknown;
        }
        return before == after ? before : CoreDistanceState.Mixed;
    }
}
