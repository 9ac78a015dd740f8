namespace IpiEngine.Cli.Run;

/// <summary>Post-to-delivery latency percentiles in nanoseconds (JSON <c>latencyNs</c>).</summary>
internal sealed record LatencySummary(long Samples, long P50, long P99, long P999, long Max);
