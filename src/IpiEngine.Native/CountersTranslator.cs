using System.Runtime.CompilerServices;
using IpiEngine.Apic;

namespace IpiEngine.Native;

/// <summary>Writes <see cref="EngineCounters"/> as an <c>ipi_counters_t</c>, no further than the caller's struct_size.</summary>
internal static unsafe class CountersTranslator
{
    private static readonly RejectReason[] s_reasons = Enum.GetValues<RejectReason>();

    public static void Write(in EngineCounters source, NativeCounters* destination)
    {
        NativeCounters full = default;
        full.StructSize = destination->StructSize;
        full.Posted = (ulong)source.Posted;
        full.Latched = (ulong)source.Latched;
        full.TopologyWrites = (ulong)source.TopologyWrites;
        full.IpisResolved = (ulong)source.IpisResolved;
        full.Rejected = (ulong)source.Rejected;
        full.DestinationsResolved = (ulong)source.DestinationsResolved;
        full.Delivered = (ulong)source.Delivered;
        full.Coalesced = (ulong)source.Coalesced;
        full.Forwarded = (ulong)source.Forwarded;
        full.NoDestination = (ulong)source.NoDestination;
        full.Notifications = (ulong)source.Notifications;
        full.RemoteDelivered = (ulong)source.RemoteDelivered;
        full.RemoteCoalesced = (ulong)source.RemoteCoalesced;
        full.RemoteRejected = (ulong)source.RemoteRejected;
        full.ServedByHost = (ulong)source.ServedByHost;
        full.PeerUnreachable = (ulong)source.PeerUnreachable;
        full.PeerTopologyWrites = (ulong)source.PeerTopologyWrites;
        full.Undelivered = (ulong)source.Undelivered;
        full.RejectedReservedBits = (ulong)source.RejectedBy(RejectReason.ReservedBitsSet); // its own field: the array's 16 slots are taken
        foreach (RejectReason reason in s_reasons)
        {
            if (reason != RejectReason.None && (int)reason < NativeCounters.ReasonSlots)
                full.RejectedByReason[(int)reason] = (ulong)source.RejectedBy(reason);
        }
        // A caller built against an older, shorter struct gets only the fields it knows.
        uint size = Math.Min(destination->StructSize, (uint)sizeof(NativeCounters));
        Unsafe.CopyBlockUnaligned(destination, &full, size);
    }
}
