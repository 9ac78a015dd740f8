namespace IpiEngine.Transport;

/// <summary>What a frame carries (byte 5 of the frame header). See <c>docs/wire-format.md</c>.</summary>
internal enum FrameKind : byte
{
    /// <summary>Dialer to acceptor: node ids, incarnation and the dialer's challenge nonce.</summary>
    Hello = 1,
    /// <summary>Acceptor to dialer: its incarnation, its nonce and its proof of the key.</summary>
    Challenge = 2,
    /// <summary>Dialer to acceptor: the dialer's proof of the key and its resume state.</summary>
    Auth = 3,
    /// <summary>Acceptor to dialer: the acceptor's resume state; the link is up.</summary>
    Welcome = 4,
    /// <summary>Delivery records with consecutive sequence numbers starting at the header's sequence.</summary>
    Deliveries = 5,
    /// <summary>Cumulative acknowledgement: every record numbered below the header's sequence was applied.</summary>
    Ack = 6,
    /// <summary>Nothing to say; proves the peer is alive.</summary>
    Heartbeat = 7,
    /// <summary>The sender closes the connection; the payload says why (<see cref="LinkFault"/>).</summary>
    Goodbye = 8,
    /// <summary>One message of the topology replication protocol (<see cref="TopologyMessage"/>, 48 bytes).</summary>
    Topology = 9,
}
