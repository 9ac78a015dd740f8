using System.Runtime.InteropServices;
using IpiEngine.Transport;

namespace IpiEngine.Native;

/// <summary>Mirror of <c>ipi_node_config_t</c>: how an engine joins a multi-host VM (104 bytes on LP64; 96 before ABI 1.4).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeNodeConfig
{
    /// <summary>The first layout's size (ABI 1.2).</summary>
    public const uint MinimumSize = 96;

    /// <summary>The size from which <see cref="PlacementCount"/> and <see cref="Reserved"/> are present (ABI 1.4).</summary>
    public const uint PlacementCountSize = 104;

    public uint StructSize;
    public uint NodeId;
    public uint* Placement;
    public NativePeer* Peers;
    public uint PeerCount;
    public uint KeyLength;
    public byte* Key;
    public byte* ListenHost;
    public uint ListenPort;
    public uint Flags;
    public uint LocalTargets;
    public uint QueueRecords;
    public uint FullQueue;
    public uint TopologyWriteTimeoutMs;
    public delegate* unmanaged<nint, IcrInjection*, uint, void> Inject;
    public delegate* unmanaged<nint, NativeX2ApicInjection*, uint, void> InjectX2Apic;
    public nint InjectContext;
    public uint PlacementCount; // ABI 1.4
    public uint Reserved;       // ABI 1.4
}

/// <summary>Mirror of <c>ipi_peer_t</c> (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativePeer
{
    public uint Node;
    public uint Port;
    public byte* Host;
}

/// <summary>Mirror of <c>ipi_x2apic_injection_t</c>: a forwarded IPI as the 64-bit x2APIC ICR (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeX2ApicInjection
{
    public uint TargetVcpu;
    public uint Reserved;
    public ulong Icr;
}

/// <summary>Mirror of <c>ipi_link_t</c>: one peer link's health and counters (128 bytes; 88 before ABI 1.8).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeLink
{
    /// <summary>The first layout's size (ABI 1.2).</summary>
    public const uint MinimumSize = 88;

    public uint StructSize;
    public uint PeerNode;
    public uint State;
    public uint LastFault;
    public ulong Forwarded;
    public ulong Acknowledged;
    public ulong RecordsSent;
    public ulong Applied;
    public ulong Duplicates;
    public ulong Abandoned;
    public ulong Unreachable;
    public ulong Connections;
    public ulong StalledNanoseconds;
    // ABI 1.8:
    public ulong FlushSends;
    public ulong DownNanoseconds;
    public ulong ReconnectingNanoseconds;
    public ulong ConnectedNanoseconds;
    public ulong BackPressuredNanoseconds;

    /// <summary>The snapshot of <paramref name="counters"/> as the C struct.</summary>
    public static NativeLink From(in LinkCounters counters) => new()
    {
        StructSize = MinimumSize,
        PeerNode = (uint)counters.PeerNode,
        State = (uint)counters.State, // LinkState's values are IPI_LINK_* (asserted by the layout tests)
        LastFault = (uint)counters.LastFault,
        Forwarded = (ulong)counters.Forwarded,
        Acknowledged = (ulong)counters.Acknowledged,
        RecordsSent = (ulong)counters.RecordsSent,
        Applied = (ulong)counters.Applied,
        Duplicates = (ulong)counters.Duplicates,
        Abandoned = (ulong)counters.Abandoned,
        Unreachable = (ulong)counters.Unreachable,
        Connections = (ulong)counters.Connections,
        StalledNanoseconds = Nanoseconds(counters.Stalled),
        FlushSends = (ulong)counters.FlushSends,
        DownNanoseconds = Nanoseconds(counters.Times.Down),
        ReconnectingNanoseconds = Nanoseconds(counters.Times.Reconnecting),
        ConnectedNanoseconds = Nanoseconds(counters.Times.Connected),
        BackPressuredNanoseconds = Nanoseconds(counters.Times.BackPressured),
    };

    private static ulong Nanoseconds(TimeSpan time) => (ulong)time.Ticks * 100;
}

/// <summary>Mirror of <c>ipi_node_faults_t</c>: a node's closed or refused connections and failed topology writes, by reason (312 bytes; 296 before ABI 1.13).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeNodeFaults
{
    /// <summary>The first layout's size (ABI 1.4).</summary>
    public const uint MinimumSize = 296;

    /// <summary><c>IPI_LINK_FAULTS</c>: room for <see cref="LinkFault"/> values added later.</summary>
    public const int LinkFaultSlots = 32;

    /// <summary><c>IPI_TOPOLOGY_WRITE_FAILURES</c>: room for <see cref="TopologyWriteFailure"/> values added later.</summary>
    public const int TopologyWriteFailureSlots = 4;

    public uint StructSize;
    public uint Reserved;
    public fixed ulong LinkFaults[LinkFaultSlots];
    public fixed ulong TopologyWriteFailures[TopologyWriteFailureSlots];
    public ulong TopologyWriteFailuresApplied; // ABI 1.13: TopologyReplication.FailedButApplied
    public ulong RejectedHandshakes; // ABI 1.13: NodeTransport.RejectedHandshakes
}
