using System.Net;

namespace IpiEngine.Transport;

/// <summary>How one node of a multi-host VM talks to its peers.</summary>
public sealed class TransportOptions
{
    /// <summary>This node's id (an index into the placement's node numbers).</summary>
    public required int NodeId { get; init; }

    /// <summary>The node each vCPU runs on, indexed by vCPU. Records are validated against it on arrival.</summary>
    public required IReadOnlyList<int> NodeOfVcpu { get; init; }

    /// <summary>The VM's pre-shared key (at least 16 bytes). Never sent: the handshake proves it with HMAC-SHA256.</summary>
    public required ReadOnlyMemory<byte> Key { get; init; }

    /// <summary>Where to listen for peers with a lower node id. Loopback, ephemeral port unless given.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Every peer's node id and address. This node dials the peers with a higher id and accepts the others.</summary>
    public required IReadOnlyList<PeerAddress> Peers { get; init; }

    /// <summary>In-flight window per link in records (power of two): the sender waits when this many are unacknowledged.</summary>
    public int WindowRecords { get; init; } = 1 << 16;

    /// <summary>Records per delivery frame the sender writes (at most <see cref="FrameHeader.MaxRecordsPerFrame"/>).</summary>
    public int MaxRecordsPerFrame { get; init; } = 1024;

    /// <summary>A connection that sent nothing for this long sends a heartbeat.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A connection that heard nothing for this long is closed as <see cref="LinkFault.PeerSilent"/>.</summary>
    public TimeSpan SilenceTimeout { get; init; } = TimeSpan.FromSeconds(5);

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

    /// <summary>Receives one line per link event (connected, refused with reason, closed with reason).</summary>
    public Action<string>? Log { get; init; }
}
