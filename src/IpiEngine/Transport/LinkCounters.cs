namespace IpiEngine.Transport;

/// <summary>
/// A snapshot of one link's counters and health. Sending side: every record handed to the link is
/// <see cref="Forwarded"/> (queued: <see cref="Acknowledged"/> + <see cref="InFlight"/>), <see cref="Unreachable"/>
/// (refused: the peer was declared unreachable under <see cref="FullQueuePolicy.Fail"/>) or <see cref="Abandoned"/>
/// (refused: the node or its engine stopped while the queue stayed full). Receiving side: every record that arrived
/// is <see cref="Applied"/> once or discarded as a <see cref="Duplicates"/> resend.
/// </summary>
internal readonly record struct LinkCounters(
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
    /// <summary>Records queued for the peer and not yet acknowledged by it.</summary>
    public long InFlight => Forwarded - Acknowledged;

    /// <summary>Records refused because the peer was declared unreachable (full queue under the fail policy).</summary>
    public long Unreachable { get; init; }

    /// <summary>Sends a <see cref="SendBatch.Flush"/> made on its own thread while the link's send loop stayed parked.</summary>
    public long FlushSends { get; init; }

    /// <summary>Time the forwarding thread spent waiting for room in this peer's full queue.</summary>
    public TimeSpan Stalled { get; init; }

    /// <summary>The link's state when the snapshot was taken.</summary>
    public LinkState State { get; init; }

    /// <summary>Time spent in each <see cref="LinkState"/>, indexed by the state, since the transport was built.</summary>
    public LinkStateTimes Times { get; init; }
}

/// <summary>Time one link spent in each state.</summary>
internal readonly record struct LinkStateTimes(TimeSpan Down, TimeSpan Reconnecting, TimeSpan Connected, TimeSpan BackPressured)
{
    /// <summary>The time spent in <paramref name="state"/>.</summary>
    public TimeSpan Of(LinkState state) => state switch
    {
        LinkState.Down => Down,
        LinkState.Reconnecting => Reconnecting,
        LinkState.Connected => Connected,
        _ => BackPressured,
    };
}
