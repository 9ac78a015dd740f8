using System.Net;

namespace IpiEngine.Transport;

/// <summary>How one node of a multi-host VM talks to its peers.</summary>
public sealed record TransportOptions
{
    /// <summary>This node's id (an index into the placement's node numbers).</summary>
    public required int NodeId { get; init; }

    /// <summary>The node each vCPU runs on, indexed by vCPU. Records are validated against it on arrival.</summary>
    public required IReadOnlyList<int> NodeOfVcpu { get; init; }

    /// <summary>The VM's pre-shared key (at least 16 bytes). Never sent: the handshake proves it with HMAC-SHA256.</summary>
    public required ReadOnlyMemory<byte> Key { get; init; }

    /// <summary>
    /// Encrypt frame payloads with AES-256-GCM (default false: every frame is authenticated with AES-256-GMAC but sent
    /// in clear). Both sides of a link must agree (<see cref="LinkFault.ProtectionMismatch"/> otherwise).
    /// </summary>
    public bool Encrypt { get; init; }

    /// <summary>
    /// Benchmarks only (internal, never read from a config): after the authenticated handshake, frames carry a zero tag
    /// that is not checked, so a benchmark can measure what the tags cost against the same run. Both sides must agree.
    /// </summary>
    internal bool UntaggedFramesForBenchmarks { get; init; }

    /// <summary>Where to listen for peers with a lower node id. Loopback, ephemeral port unless given.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Every peer's node id and address. This node dials the peers with a higher id and accepts the others.</summary>
    public required IReadOnlyList<PeerAddress> Peers { get; init; }

    /// <summary>
    /// Each peer's own outbound queue in records (a power of two), allocated once when the transport is built: records
    /// wait there until the peer acknowledges them (and are resent from there after a reconnect). The pipeline hands a
    /// peer its records and goes on with other work; only when this queue is full does <see cref="FullQueuePolicy"/>
    /// apply. Default 2^24 records (512 MiB of address space per peer, touched only as far as the backlog ever grew): 1.3 s of the
    /// 12.8 M cross-node IPIs/s one link carried in the 2-node run.
    /// </summary>
    public int WindowRecords { get; init; } = DefaultWindowRecords;

    /// <summary>The default of <see cref="WindowRecords"/>: 2^24 records.</summary>
    public const int DefaultWindowRecords = 1 << 24;

    /// <summary>What forwarding does when a peer's queue is full: wait (default, nothing lost, stall counted) or fail.</summary>
    public FullQueuePolicy FullQueuePolicy { get; init; } = FullQueuePolicy.Wait;

    /// <summary>
    /// Once the engine is stopping (<see cref="Delivery.RemoteForwarder.OnEngineStopping"/>), how long a forward may
    /// still wait for room in a full queue; after it, records that do not fit are refused and counted (abandoned).
    /// </summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Records per delivery frame the sender writes (at most <see cref="FrameHeader.MaxRecordsPerFrame"/>).</summary>
    public int MaxRecordsPerFrame { get; init; } = 1024;

    /// <summary>A connection that sent nothing for this long sends a heartbeat.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A connection that heard nothing for this long is closed as <see cref="LinkFault.PeerSilent"/>.</summary>
    public TimeSpan SilenceTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Accepted connections that may be authenticating at once (internal; tests lower it). Past it a new connection is
    /// closed unheard and counted as <see cref="LinkFault.TooManyHandshakes"/>: each pending one holds a 256 KiB receive
    /// segment until its handshake ends, so a flood of idle connections would otherwise grow the process by that much
    /// per connection. The peers that dial a node hold one connection each, and reconnect if refused.
    /// </summary>
    internal int PendingHandshakeLimit { get; init; } = DefaultPendingHandshakeLimit;

    /// <summary>The default <see cref="PendingHandshakeLimit"/>: 64 (16 MiB of receive segments at most).</summary>
    internal const int DefaultPendingHandshakeLimit = 64;

    /// <summary>Time allowed for connecting plus the handshake.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First reconnect delay; doubles on each failure up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest reconnect delay.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a topology write may take to be applied on every node (<see cref="TopologyReplication"/>): past it the
    /// posting call fails with a <see cref="TopologyWriteException"/> and the failure is counted.
    /// </summary>
    public TimeSpan TopologyWriteTimeout { get; init; } = DefaultTopologyWriteTimeout;

    /// <summary>The default <see cref="TopologyWriteTimeout"/>: 5 s.</summary>
    public static TimeSpan DefaultTopologyWriteTimeout => TimeSpan.FromSeconds(5);

    /// <summary>
    /// Receives one line per link event (connected, refused with reason, closed with reason), on the link's threads. An
    /// exception it throws is swallowed: that line is lost, the link is not.
    /// </summary>
    public Action<string>? Log { get; init; }
}
