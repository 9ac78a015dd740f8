namespace IpiEngine.Transport;

/// <summary>Why a connection of a link was closed or refused. Sent in a goodbye frame and counted per node.</summary>
public enum LinkFault : uint
{
    /// <summary>No fault.</summary>
    None = 0,
    /// <summary>The node is shutting down.</summary>
    Shutdown,
    /// <summary>The peer closed the connection (or the network did).</summary>
    ConnectionLost,
    /// <summary>The frame does not start with the magic number.</summary>
    BadMagic,
    /// <summary>The peer speaks another protocol version.</summary>
    UnsupportedVersion,
    /// <summary>The frame kind is not one this version defines.</summary>
    UnknownFrameKind,
    /// <summary>Reserved header bits are set.</summary>
    ReservedBitsSet,
    /// <summary>The payload length or record count is past the bound or does not match the kind.</summary>
    LengthOutOfBounds,
    /// <summary>The stream ended inside a frame.</summary>
    TruncatedFrame,
    /// <summary>A frame kind that is not allowed at this point of the conversation.</summary>
    UnexpectedFrame,
    /// <summary>The peer claims a node id this node does not know, or thinks it talks to another node.</summary>
    UnknownNode,
    /// <summary>The peer could not prove it holds the pre-shared key.</summary>
    WrongKey,
    /// <summary>A record names a vCPU that does not exist or is not placed where the link says.</summary>
    RecordOutsidePlacement,
    /// <summary>A delivery frame starts past the next expected sequence number.</summary>
    SequenceGap,
    /// <summary>An acknowledgement covers records this connection has not sent (a resume block: records no connection sent).</summary>
    BadAcknowledgement,
    /// <summary>Nothing was heard from the peer for longer than the silence timeout.</summary>
    PeerSilent,
    /// <summary>The handshake did not finish in time.</summary>
    HandshakeTimeout,
    /// <summary>A newer connection from the same peer replaced this one.</summary>
    Replaced,
    /// <summary>
    /// The nodes disagree on the VM's topology: another digest at the same epoch, a replicated write that does not
    /// reproduce the sequencer's digest, or a write replayed to a sequencer that contradicts its order, does not follow
    /// it while it recovers, or shows that the recovered order lost a write a node holds.
    /// </summary>
    TopologyMismatch,
    /// <summary>A frame failed authentication (altered, replayed, reordered or from another connection); nothing from it was applied.</summary>
    BadMac,
    /// <summary>The peers disagree on frame protection (one encrypts with AES-GCM, the other only authenticates).</summary>
    ProtectionMismatch,
    /// <summary>
    /// Too many connections were authenticating at once (a flood of connections that never finish the handshake): this
    /// one was closed unheard, without a goodbye. Counted on the accepting node only.
    /// </summary>
    TooManyHandshakes,
    /// <summary>
    /// This node's sink (<see cref="RemoteDeliverySink"/>: its engine, or the embedder's injector) threw while applying
    /// a frame. The frame counts as not applied (but for the leading records an <see cref="InjectorSink"/> says it
    /// applied before its injector threw): the link closes, says so to the peer, and redials with backoff, and the peer
    /// resends the rest on the next connection.
    /// </summary>
    SinkFailed,
}
