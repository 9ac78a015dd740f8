using System.Diagnostics;
using HdrHistogram;

namespace IpiEngine.Cli.Run;

/// <summary>Post-to-delivery latency in nanoseconds, recorded into an HdrHistogram (3 significant digits, up to 60 s).</summary>
internal sealed class LatencyHistogram
{
    private const long HighestNs = 60L * 1_000_000_000;
    private readonly LongHistogram histogram = new(1, HighestNs, 3);
    private readonly double nsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>Samples recorded.</summary>
    public long Count => histogram.TotalCount;

    /// <summary>Records one latency given as two <see cref="Stopwatch.GetTimestamp"/> values; unset stamps are skipped.</summary>
    public void RecordTicks(long postTimestamp, long deliverTimestamp)
    {
        if (postTimestamp == 0 || deliverTimestamp < postTimestamp)
        {
            return;
        }

        var ns = (long)((deliverTimestamp - postTimestamp) * nsPerTick);
        histogram.RecordValue(Math.Clamp(ns, 1, HighestNs));
    }

    /// <summary>Records one latency given as a <see cref="Stopwatch"/> tick count.</summary>
    public void RecordElapsedTicks(long ticks) => RecordTicks(1, 1 + ticks);

    /// <summary>Adds every sample of <paramref name="other"/> (per-thread histograms merged after the run).</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        histogram.Add(other.histogram);
    }

    /// <summary>The percentiles the summary reports, or zeros when nothing was recorded.</summary>
    public LatencySummary Summarize()
        => Count == 0
            ? new LatencySummary(0, 0, 0, 0, 0)
            : new LatencySummary(Count, histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99), histogram.GetValueAtPercentile(99.9), histogram.GetMaxValue());
}
