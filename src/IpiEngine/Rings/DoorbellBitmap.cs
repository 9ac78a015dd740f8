using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Rings;

/// <summary>
/// One bit per ring, set when the ring may hold unread records, so that the consumer visits only rings that have work:
/// O(active rings), not O(all rings). Each 64-bit word sits on its own padded line.
/// </summary>
/// <remarks>
/// Why no wake-up can be lost. The producer (1) publishes its tail with a full fence, then (2) loads the word and sets
/// its bit only if it reads it clear. The consumer (a) clears the word with an atomic exchange, then (b) reads the
/// tails of the rings whose bits it took, and re-rings a ring it could not drain fully. If the producer's load (2) saw
/// the bit still set, that load precedes the consumer's exchange (a) in the word's order, so the producer's tail store
/// (1), fenced before (2), is visible to the consumer's tail read (b), which follows its exchange. If the load saw the
/// bit clear, the producer sets it and the next pass finds it. Either way the record is seen.
/// </remarks>
public sealed class DoorbellBitmap
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

    /// <summary>Consumer: takes and clears one word (atomic exchange, a full fence before the rings' tails are read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Take(int wordIndex)
    {
        ref ulong word = ref Word(wordIndex);
        return Volatile.Read(ref word) == 0 ? 0 : Interlocked.Exchange(ref word, 0);
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
