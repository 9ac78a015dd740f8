using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Rings;

/// <summary>
/// One bit per ring, set when the ring may hold unread records, so that the consumer visits only rings that have work:
/// O(active rings), not O(all rings). Each 64-bit word sits on its own padded line.
/// </summary>
/// <remarks>
/// Why no wake-up can be lost. The producer (1) publishes its tail with a release store, then (2) loads the word (a
/// plain load, no fence) and sets its bit only if it reads it clear. The consumer (a) clears bits only through
/// <see cref="Clear"/>: an atomic AND per word, then one
/// <see cref="Interlocked.MemoryBarrierProcessWide"/>, and then (b) reads those rings' tails again and re-rings any
/// that is not empty. This is the asymmetric form of Dekker's pattern (<see cref="SpscRing{T}"/>'s remarks): the
/// consumer's barrier falls somewhere in the producer's program order, so if the producer's load (2) saw the bit still
/// set, its tail store (1) came before that point and the consumer's read (b) sees it; if (2) saw the bit clear, the
/// producer sets it (a full fence, after which it checks for a parked consumer) and a later pass finds it. Either way
/// the record is seen. The producer pays a store and a load; the consumer pays a barrier (a few microseconds, a system
/// call) per clear, so clears are rare: the gather stage clears a ring's bit only after the ring was empty for many
/// visits in a row, or right before its thread parks. While traffic flows the word stays unwritten, so a producer's
/// check is a read of a shared line instead of an atomic on a line the consumer keeps taking back.
/// </remarks>
internal sealed class DoorbellBitmap
{
    private const int Stride = CacheLine.PaddedSize / sizeof(ulong); // one padded line per word
    private readonly ulong[] _words;

    /// <summary>Creates a bitmap for <paramref name="count"/> rings, all clear.</summary>
    public DoorbellBitmap(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        Count = count;
        WordCount = (count + 63) >> 6;
        _words = new ulong[(WordCount + 1) * Stride]; // word w at (w + 1) * Stride: a padded line before the first
    }

    /// <summary>How many rings.</summary>
    public int Count { get; }

    /// <summary>How many 64-bit words.</summary>
    public int WordCount { get; }

    /// <summary>
    /// Producer, after publishing its tail (a release store is enough): sets the ring's bit unless it is already set. Returns true when this call
    /// changed it from clear to set (the caller may then wake a parked consumer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Ring(int index)
    {
        ref ulong word = ref Word(index >> 6);
        ulong bit = 1UL << index;
        if ((Volatile.Read(ref word) & bit) != 0) // unfenced after the tail store: the clearer's process-wide barrier orders the pair (remarks)
        {
            return false; // already set: the consumer will visit
        }

        return (Interlocked.Or(ref word, bit) & bit) == 0; // full fence; a parked consumer is checked after it
    }

    /// <summary>
    /// Producer, after publishing its tail: whether the ring's bit is set (a plain read, no fence; the same read that
    /// opens <see cref="Ring"/>). Fused mode's idle assist reads it first and takes the slow path only when it is clear.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsRung(int index) => (Volatile.Read(ref Word(index >> 6)) & (1UL << index)) != 0; // unfenced after the tail store, as in Ring (remarks)

    /// <summary>Consumer: the word's bits, left set (they are cleared with <see cref="Clear"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Peek(int wordIndex) => Volatile.Read(ref Word(wordIndex)); // acquire: the tails are read after

    /// <summary>
    /// Consumer: clears, for every word w, the bits <paramref name="bitsByWord"/>[w], then one process-wide barrier for
    /// all of them; the caller must then read those rings' tails again and re-ring any that is not empty.
    /// </summary>
    public void Clear(ReadOnlySpan<ulong> bitsByWord)
    {
        for (int w = 0; w < bitsByWord.Length; w++)
        {
            if (bitsByWord[w] != 0)
            {
                Interlocked.And(ref Word(w), ~bitsByWord[w]); // atomic: producers set other bits of the word concurrently
            }
        }

        Interlocked.MemoryBarrierProcessWide(); // orders the clears before every producer's unfenced read of its word (remarks)
    }

    /// <summary>Whether any bit is set (a snapshot).</summary>
    public bool AnySet
    {
        get
        {
            for (int w = 0; w < WordCount; w++)
            {
                if (Volatile.Read(ref Word(w)) != 0)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The number of set bits (a snapshot; diagnostics).</summary>
    public int PopCount()
    {
        int total = 0;
        for (int w = 0; w < WordCount; w++)
        {
            total += BitOperations.PopCount(Volatile.Read(ref Word(w)));
        }

        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong Word(int wordIndex) => ref _words[(wordIndex + 1) * Stride];
}
