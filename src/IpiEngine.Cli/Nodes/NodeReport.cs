namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What one node reports at the end of a run (one JSON line). Conservation: <see cref="Forwarded"/> =
/// <see cref="Acknowledged"/> + in flight; <see cref="Expected"/> = <see cref="InOrder"/> + <see cref="Skipped"/> +
/// <see cref="Misrouted"/> when the run is complete, and <see cref="Repeated"/> should be 0.
/// </summary>
public sealed record NodeReport(
    int Node,
    long Forwarded,
    long Acknowledged,
    long Expected,
    long Applied,
    long InOrder,
    long Repeated,
    long Skipped,
    long Misrouted,
    long DuplicatesDiscarded,
    long Connections,
    double Seconds,
    double P50Microseconds,
    double P99Microseconds,
    bool Complete);
