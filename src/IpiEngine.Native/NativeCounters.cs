using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>Mirror of <c>ipi_counters_t</c>: a snapshot of the engine's accounting (288 bytes; 280 before ABI 1.10, 272 before ABI 1.4, 248 before ABI 1.2).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeCounters
{
    /// <summary>Length of <see cref="RejectedByReason"/> (<c>IPI_REJECT_REASONS</c>): room for reasons added later.</summary>
    public const int ReasonSlots = 16;

    /// <summary>The smallest struct_size a caller may pass: everything up to and including <see cref="Notifications"/>.</summary>
    public const uint MinimumSize = 96;

    public uint StructSize;
    public uint Reserved;
    public ulong Posted;
    public ulong Latched;
    public ulong TopologyWrites;
    public ulong IpisResolved;
    public ulong Rejected;
    public ulong DestinationsResolved;
    public ulong Delivered;
    public ulong Coalesced;
    public ulong Forwarded;
    public ulong NoDestination;
    public ulong Notifications;
    public fixed ulong RejectedByReason[ReasonSlots];
    public ulong RemoteDelivered;
    public ulong RemoteCoalesced;
    public ulong RemoteRejected;
    public ulong ServedByHost;       // ABI 1.2
    public ulong PeerUnreachable;    // ABI 1.2
    public ulong PeerTopologyWrites; // ABI 1.2
    public ulong Undelivered;        // ABI 1.4
    public ulong RejectedReservedBits; // ABI 1.10: IPI_REJECT_RESERVED_BITS_SET, past the 16 slots of RejectedByReason
}
