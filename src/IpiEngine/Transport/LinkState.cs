namespace IpiEngine.Transport;

/// <summary>The health of one link (time spent in each state is counted: <see cref="LinkCounters"/>).</summary>
public enum LinkState
{
    /// <summary>No connection and no attempt running (before the first contact, after a cut, between retries).</summary>
    Down,

    /// <summary>A connection is being made or authenticated.</summary>
    Reconnecting,

    /// <summary>An authenticated connection runs and the peer's queue has room.</summary>
    Connected,

    /// <summary>An authenticated connection runs but the peer's queue is full: forwarding waits or is refused.</summary>
    BackPressured,
}
