namespace IpiEngine.Transport;

/// <summary>
/// A snapshot of one link's counters and health (<see cref="NodeTransport.ReadLink"/>; C's <c>ipi_node_link</c>). Sending
/// side: every record handed to the link is <see cref="Forwarded"/> (queued: <see cref="Acknowledged"/> +
/// <see cref="InFlight"/>), <see cref="Unreachable"/> (refused: the peer was declared unreachable under
/// <see cref="FullQueuePolicy.Fail"/>) or <see cref="Abandoned"/> (refused: the node or its engine stopped while the queue
/// stayed full). Receiving side: every record that arrived is <see cref="Applied"/> once or discarded as a
/// <see cref="Duplicates"/> resend. Each count is read on its own: a snapshot is not one atomic cut of the link, but no
/// count ever decreases.
/// </summary>
public readonly record struct LinkCounters
{
    /// <summary>The peer's node id.</summary>
    public int PeerNode { get; internal init; }

    /// <summary>Records handed to the link for the peer (queued).</summary>
    public long Forwarded { get; internal init; }

    /// <summary>Of <see cref="Forwarded"/>, those the peer acknowledged (applied there, exactly once).</summary>
    public long Acknowledged { get; internal init; }

    /// <summary>Records written to a connection, resends included.</summary>
    public long RecordsSent { get; internal init; }

    /// <summary>Records from the peer applied here (each once).</summary>
    public long Applied { get; internal init; }

    /// <summary>Records from the peer discarded as resends of records already applied.</summary>
    public long Duplicates { get; internal init; }

    /// <summary>Records refused because the node or its engine stopped while the peer's queue stayed full.</summary>
    public long Abandoned { get; internal init; }

    /// <summary>Authenticated connections made with the peer.</summary>
    public long Connections { get; internal init; }

    /// <summary>Why the link's last connection closed or was refused (<see cref="LinkFault.None"/> if none did).</summary>
    public LinkFault LastFault { get; internal init; }

    /// <summary>
    /// Records queued for the peer and not yet acknowledged by it. A forward is counted in <see cref="Forwarded"/> when
    /// its call returns, after its records were queued, so a snapshot may see them acknowledged first: never below 0.
    /// </summary>
    public long InFlight => Math.Max(0, Forwarded - Acknowledged);

    /// <summary>Records refused because the peer was declared unreachable (full queue under the fail policy).</summary>
    public long Unreachable { get; internal init; }

    /// <summary>Sends a <see cref="SendBatch.Flush"/> made on its own thread while the link's send loop stayed parked.</summary>
    public long FlushSends { get; internal init; }

    /// <summary>Time the forwarding thread spent waiting for room in this peer's full queue.</summary>
    public TimeSpan Stalled { get; internal init; }

    /// <summary>The link's state when the snapshot was taken.</summary>
    public LinkState State { get; internal init; }

    /// <summary>Time spent in each <see cref="LinkState"/> since the transport was built.</summary>
    public LinkStateTimes Times { get; internal init; }
}

/// <summary>Time one link spent in each <see cref="LinkState"/> (<see cref="LinkCounters.Times"/>).</summary>
public readonly record struct LinkStateTimes
{
    /// <summary>Time in <see cref="LinkState.Down"/>.</summary>
    public TimeSpan Down { get; internal init; }

    /// <summary>Time in <see cref="LinkState.Reconnecting"/>.</summary>
    public TimeSpan Reconnecting { get; internal init; }

    /// <summary>Time in <see cref="LinkState.Connected"/>.</summary>
    public TimeSpan Connected { get; internal init; }

    /// <summary>Time in <see cref="LinkState.BackPressured"/>.</summary>
    public TimeSpan BackPressured { get; internal init; }

    /// <summary>The time spent in <paramref name="state"/>.</summary>
    public TimeSpan Of(LinkState state) => state switch
    {
        LinkState.Down => Down,
        LinkState.Reconnecting => Reconnecting,
        LinkState.Connected => Connected,
        _ => BackPressured,
    };
}
