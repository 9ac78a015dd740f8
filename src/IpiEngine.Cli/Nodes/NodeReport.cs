namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What one node reports at the end of a run (one JSON line).
/// Engine: <see cref="Posted"/> records resolved and <see cref="EngineForwarded"/> to peers, <see cref="EngineConservationHolds"/>;
/// remote arrivals <see cref="RemoteDelivered"/> + <see cref="RemoteCoalesced"/> + <see cref="RemoteRejected"/> = <see cref="Applied"/>.
/// Links: <see cref="Forwarded"/> = <see cref="Acknowledged"/> + in flight; <see cref="Applied"/> once each,
/// resends discarded as <see cref="DuplicatesDiscarded"/>.
/// Check: <see cref="Expected"/> = <see cref="InOrder"/> when complete, and <see cref="Repeated"/>, <see cref="Skipped"/>,
/// <see cref="Misrouted"/> are 0.
/// </summary>
public sealed record NodeReport(
    int Node,
    long Posted,
    long EngineForwarded,
    bool EngineConservationHolds,
    long Forwarded,
    long Acknowledged,
    long Applied,
    long DuplicatesDiscarded,
    long RemoteDelivered,
    long RemoteCoalesced,
    long RemoteRejected,
    long Expected,
    long InOrder,
    long Repeated,
    long Skipped,
    long Misrouted,
    long Connections,
    double Seconds,
    double P50Microseconds,
    double P99Microseconds,
    bool Complete);
