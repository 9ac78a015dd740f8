using System.Runtime.InteropServices;

namespace IpiEngine.Rings;

/// <summary>
/// The cursors of one <see cref="SpscRing{T}"/>: the producer's line (published tail, its cached copy of the head, its
/// drop count, the close flag and final tail that the closer writes once) and the consumer's line (head, its cached copy of the tail), each padded by <see cref="CacheLine.PaddedSize"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 3 * CacheLine.PaddedSize)]
internal struct SpscCursors
{
    // [0, PaddedSize): padding against whatever precedes the struct in its object.

    /// <summary>Next index the producer writes; published to the consumer (release).</summary>
    [FieldOffset(CacheLine.PaddedSize)] public long Tail;

    /// <summary>The producer's last view of <see cref="Head"/>: refreshed only when the ring looks full.</summary>
    [FieldOffset(CacheLine.PaddedSize + 8)] public long CachedHead;

    /// <summary>Records the producer dropped (back-pressure policy Drop); producer-owned, read by counters.</summary>
    [FieldOffset(CacheLine.PaddedSize + 16)] public long Dropped;

    /// <summary>Nonzero once a closer began closing the ring; on the producer's line, so its check after each publish is free.</summary>
    [FieldOffset(CacheLine.PaddedSize + 24)] public long Closed;

    /// <summary>The tail the closer sealed (every record below it is drained, none above it); -1 until sealed.</summary>
    [FieldOffset(CacheLine.PaddedSize + 32)] public long FinalTail;

    /// <summary>Next index the consumer reads; published to the producer (release).</summary>
    [FieldOffset(2 * CacheLine.PaddedSize)] public long Head;

    /// <summary>The consumer's last view of <see cref="Tail"/>: refreshed only when the ring looks empty.</summary>
    [FieldOffset(2 * CacheLine.PaddedSize + 8)] public long CachedTail;

    // [2 * PaddedSize + 16, 3 * PaddedSize): padding against whatever follows.
}
