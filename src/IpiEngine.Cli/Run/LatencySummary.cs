namespace IpiEngine.Cli.Run;

/// <summary>Post-to-delivery latency percentiles in nanoseconds (JSON <c>latencyNs</c>).</summary>
internal sealed record LatencySummary(long Samples, long P50, long P99, long P999, long Max)
{
    /// <summary>
    /// <paramref name="nanoseconds"/> (one of this summary's percentiles) in microseconds for a table, or "-" when there
    /// was no sample: a percentile of nothing is not 0.
    /// </summary>
    public string Micros(long nanoseconds) =>
        Samples == 0 ? "-" : (nanoseconds / 1000.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Several nodes' summaries as one, in the same shape: samples summed, each percentile the worst node's (an upper
    /// bound on the whole VM's: a percentile of a union is at most the largest of the parts'), the largest maximum.
    /// Parts with no sample are left out; none at all gives zeros.
    /// </summary>
    public static LatencySummary Worst(IEnumerable<LatencySummary> parts)
    {
        var sampled = parts.Where(p => p.Samples > 0).ToArray();
        return sampled.Length == 0
            ? new LatencySummary(0, 0, 0, 0, 0)
            : new LatencySummary(sampled.Sum(p => p.Samples), sampled.Max(p => p.P50), sampled.Max(p => p.P99), sampled.Max(p => p.P999), sampled.Max(p => p.Max));
    }
}
