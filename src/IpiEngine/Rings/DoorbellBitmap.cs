using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Rings;

/// <summary>
/// One bit per ring, set when the ring may hold unread records, so that the consumer visits only rings that have work:
/// O(active rings), not O(all rings). Each 64-bit word sits on its own padded line.
/// </summary>
/// <remarks>
/// Why no wake-up can be lost. The producer (1) publishes its tail with a full fence, then (2) loads the word and sets
/// its bit only if it reads it clear. The consumer (a) clears bits only with <see cref="Clear"/>, a full fence, and then
/// (b) reads those rings' tails again. Both sides store, fence, then load what the other stores (Dekker's pattern): if
/// the producer's load (2) saw the bit still set, the consumer's read (b) sees the producer's tail (1); if it saw the
/// bit clear, the producer sets it and a later pass finds it. Either way the record is seen.
/// The gather stage clears lazily, only the bits of rings that stayed empty for a whole visit: the word stays unwritten
/// while traffic flows, so a producer's check is a read of a shared line instead of an atomic on a line the consumer
/// keeps taking back.
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
    /// Producer, after a fenced publish: sets the ring's bit unless it is already set. Returns true when this call
    /// changed it from clear to set (the caller may then wake a parked consumer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Ring(int index)
    {
        ref ulong word = ref Word(index >> 6);
        ulong bit = 1UL << index;
        if ((Volatile.Read(ref word) & bit) != 0)
        {
            return false; // already set: the consumer will visit (see the remarks for why this read is safe)
        }

        return (Interlocked.Or(ref word, bit) & bit) == 0; // full fence; a parked consumer is checked after it
    }

    /// <summary>Consumer: the word's bits, left set (they are cleared with <see cref="Clear"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Peek(int wordIndex) => Volatile.Read(ref Word(wordIndex)); // acquire: the tails are read after

    /// <summary>
    /// Consumer: clears <paramref name="bits"/> of one word (atomic AND, a full fence); the caller must then read those
    /// rings' tails again and handle (or re-ring) any that is no longer empty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Clear(int wordIndex, ulong bits) => Interlocked.And(ref Word(wordIndex), ~bits);

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
