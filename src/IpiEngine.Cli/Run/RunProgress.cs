namespace IpiEngine.Cli.Run;

/// <summary>One sample of a running job, taken by the monitoring thread a few times a second.</summary>
/// <param name="Elapsed">Time since the run started (warm-up included).</param>
/// <param name="Phase">What the run is doing: warm-up, measuring, draining.</param>
/// <param name="Posted">IPIs posted so far.</param>
/// <param name="Delivered">IPIs delivered into descriptors so far (coalesced included).</param>
/// <param name="Rejected">IPIs rejected so far.</param>
/// <param name="PostedPerSecond">IPIs posted per second since the previous sample.</param>
/// <param name="DeliveredPerSecond">IPIs delivered per second since the previous sample.</param>
/// <param name="RingOccupancy">Records waiting in the rings, as a fraction of their total capacity.</param>
internal readonly record struct RunProgress(
    TimeSpan Elapsed, string Phase, long Posted, long Delivered, long Rejected, double PostedPerSecond, double DeliveredPerSecond, double RingOccupancy)
{
    /// <summary>The phase of the last sample, taken once the run is over.</summary>
    public const string Done = "done";
}
