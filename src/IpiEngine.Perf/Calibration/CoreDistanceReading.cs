namespace IpiEngine.Perf.Calibration;

/// <summary>One run of the calibration probe.</summary>
public sealed record CoreDistanceReading
{
    /// <summary>Median cache-line round trip between the two probe threads, in ns; null when the probe could not measure.</summary>
    public double? RoundTripNs { get; init; }

    /// <summary>How many timed samples the median was taken over.</summary>
    public int Samples { get; init; }

    /// <summary>Whether the two probe threads were pinned to two different logical CPUs.</summary>
    public bool Pinned { get; init; }

    /// <summary>When the reading was taken (UTC).</summary>
    public DateTimeOffset TakenUtc { get; init; }

    /// <summary>Why there is no reading, when <see cref="RoundTripNs"/> is null.</summary>
    public string? Problem { get; init; }
}
