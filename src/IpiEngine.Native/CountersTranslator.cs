using System.Runtime.CompilerServices;

namespace IpiEngine.Native;

/// <summary>Writes <see cref="EngineCounters"/> as an <c>ipi_counters_t</c>, no further than the caller's struct_size.</summary>
internal static unsafe class CountersTranslator
{
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
        // A caller built against an older, shorter struct gets only the fields it knows.
        uint size = Math.Min(destination->StructSize, (uint)sizeof(NativeCounters));
        Unsafe.CopyBlockUnaligned(destination, &full, size);
    }
}
