namespace IpiEngine.Transport;

/// <summary>
/// A snapshot of one link's counters. Sending side: <see cref="Forwarded"/> = <see cref="Acknowledged"/> + in flight
/// (+ <see cref="Abandoned"/> after a stop that could not drain). Receiving side: every record that arrived is
/// <see cref="Applied"/> once or discarded as a <see cref="Duplicates"/> resend.
/// </summary>
public readonly record struct LinkCounters(
    int PeerNode,
    long Forwarded,
    long Acknowledged,
    long RecordsSent,
    long Applied,
    long Duplicates,
    long Abandoned,
    long Connections,
    LinkFault LastFault)
{
    /// <summary>Records handed to the link and not yet acknowledged by the peer.</summary>
    public long InFlight => Forwarded - Abandoned - Acknowledged;
}
