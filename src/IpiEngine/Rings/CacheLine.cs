using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Rings;

/// <summary>
/// The one place where false-sharing padding is decided. x86 lines are 64 bytes, but the adjacent-line prefetcher pulls
/// lines in pairs, so data written by different threads is kept <see cref="PaddedSize"/> (two lines) apart.
/// </summary>
internal static class CacheLine
{
    /// <summary>Bytes in one cache line.</summary>
    public const int Size = 64;

    /// <summary>The distance kept between fields written by different threads (two lines: adjacent-line prefetch).</summary>
    public const int PaddedSize = 128;

    /// <summary>
    /// A zeroed block of <paramref name="bytes"/> that starts on an <paramref name="alignment"/> boundary (a power of two
    /// of at least 8), inside <paramref name="storage"/>: a pinned array the caller keeps for as long as it uses the block
    /// (pinned, the address never changes). Managed arrays are only 8-byte aligned, so the block is aligned by hand.
    /// </summary>
    public static unsafe byte* AllocatePinnedAligned(int bytes, int alignment, out byte[] storage)
    {
        Debug.Assert(BitOperations.IsPow2(alignment) && alignment >= 8);
        storage = GC.AllocateArray<byte>(bytes + alignment, pinned: true); // the block plus the most an 8-aligned start needs
        byte* start = (byte*)Unsafe.AsPointer(ref storage[0]);
        return start + ((alignment - ((nint)start & (alignment - 1))) & (alignment - 1));
    }
}
