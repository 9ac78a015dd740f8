using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Rings;

/// <summary>
/// A bounded single-producer single-consumer ring of blittable records: power-of-two capacity, indices that only grow
/// (64-bit, masked into the buffer), producer and consumer cursors on separate padded lines, each side caching the
/// other's cursor so that it touches the shared line only when the ring looks full (producer) or empty (consumer).
/// </summary>
/// <remarks>
/// Exactly one thread produces and one consumes at any time. The producer writes slots with plain stores and makes a
/// whole batch visible with one store of the tail (<see cref="Publish"/>: release; <see cref="TryPublish"/>: a compare
/// and swap, a full fence, for callers that must then read shared state, such as a doorbell, and that must learn
/// whether the ring was closed). The consumer reads slots after an acquire load of the tail and returns them with one
/// release store of the head (<see cref="Advance"/>).
/// <para>
/// Closing (why a publication and a close can never cross). <see cref="Close"/> sets <see cref="ClosedBit"/> in the
/// tail word with a compare and swap; <see cref="TryPublish"/> moves the tail with a compare and swap that expects the
/// bit clear. Both are read-modify-writes of the same word, so they are totally ordered: a publication ordered before
/// the close is included in the count <see cref="Close"/> returns (the closer drains it), and one ordered after fails
/// and publishes nothing (its caller reports the close). There is no window in between, and the producer pays no more
/// than the locked instruction it needs anyway for the doorbell's store-load order. A closed tail also makes
/// <see cref="FreeSpace"/> negative (the bit is far above any capacity), so a closed ring always looks full to its
/// producer and no slot is written while the closer drains. Only <see cref="TryPublish"/> respects a close;
/// <see cref="Publish"/> is for rings that are never closed.
/// </para>
/// <para>
/// The slots start on a <see cref="CacheLine.Size"/> boundary (pinned, aligned by hand), so a record whose size divides
/// the line (the 32-byte <see cref="ExitRecord"/>) never straddles two lines.
/// </para>
/// </remarks>
/// <typeparam name="T">The record type (blittable).</typeparam>
[DebuggerDisplay("Published = {PublishedCount}, Consumed = {ConsumedCount}, Capacity = {Capacity}")]
internal sealed unsafe class SpscRing<T> where T : unmanaged
{
    /// <summary>Set in the tail word by <see cref="Close"/>; far above any index a ring reaches.</summary>
    private const long ClosedBit = 1L << 62;

    private readonly byte[] _storage; // pinned: the slots live inside it, from _slots
    private readonly T* _slots;       // on a CacheLine.Size boundary
    private readonly int _capacity;
    private readonly long _mask;
    private SpscCursors _cursors;

    /// <summary>Creates an empty ring.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not a power of two of at least 2.</exception>
    public SpscRing(int capacity)
    {
        if (capacity < 2 || !BitOperations.IsPow2(capacity))
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The ring capacity must be a power of two of at least 2.");
        }

        _capacity = capacity;
        _mask = capacity - 1;
        _storage = GC.AllocateArray<byte>((capacity * sizeof(T)) + CacheLine.Size, pinned: true);
        byte* start = (byte*)Unsafe.AsPointer(ref _storage[0]); // pinned: the address never changes
        _slots = (T*)(start + ((CacheLine.Size - ((nint)start & (CacheLine.Size - 1))) & (CacheLine.Size - 1)));
    }

    /// <summary>How many records the ring holds at most.</summary>
    public int Capacity => _capacity;

    /// <summary>Records published since creation (an acquire read of the tail; any thread).</summary>
    public long PublishedCount => Volatile.Read(ref _cursors.Tail) & ~ClosedBit;

    /// <summary>Whether <see cref="Close"/> was called (an acquire read; any thread).</summary>
    public bool IsClosed => (Volatile.Read(ref _cursors.Tail) & ClosedBit) != 0;

    /// <summary>The address of the slot that index <paramref name="index"/> maps to (alignment checks).</summary>
    internal nint SlotAddress(long index) => (nint)(_slots + (index & _mask));

    /// <summary>Records consumed since creation (an acquire read of the head; any thread).</summary>
    public long ConsumedCount => Volatile.Read(ref _cursors.Head);

    /// <summary>Records the producer counted as dropped through <see cref="CountDropped"/>.</summary>
    public long DroppedCount => Volatile.Read(ref _cursors.Dropped);

    /// <summary>True when everything published has been consumed (any thread; a snapshot).</summary>
    public bool IsEmpty => Volatile.Read(ref _cursors.Head) == (Volatile.Read(ref _cursors.Tail) & ~ClosedBit);

    // ---------------------------------------------------------------- producer side

    /// <summary>
    /// Producer: free slots, refreshing the cached head only when the cached view says the ring is full. Negative once
    /// the ring is closed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FreeSpace(int wanted = 1)
    {
        long tail = _cursors.Tail; // producer-owned (the closer only sets ClosedBit, which makes free negative)
        long free = _capacity - (tail - _cursors.CachedHead);
        if (free >= wanted)
        {
            return (int)free;
        }

        return RefreshFreeSpace(tail);
    }

    /// <summary>Producer: the slot <paramref name="offset"/> places past the tail (the caller checked <see cref="FreeSpace"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T ProducerSlot(int offset)
    {
        Debug.Assert((uint)offset < (uint)_capacity, "Claim no more slots than FreeSpace returned.");
        return ref Slot(_cursors.Tail + offset);
    }

    /// <summary>Producer: makes the next <paramref name="count"/> written slots visible with one release store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish(int count)
        => Volatile.Write(ref _cursors.Tail, _cursors.Tail + count); // release: the slots' stores are visible first

    /// <summary>
    /// Producer: makes the next <paramref name="count"/> written slots visible unless the ring was closed, with one
    /// compare and swap (a full fence, so a later load by this thread, for example of a doorbell word, cannot be ordered
    /// before the tail store). False, and nothing published, when the ring is closed (see the class remarks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPublish(int count)
    {
        long tail = _cursors.Tail & ~ClosedBit; // producer-owned; the expected value never has the bit, so a close fails us
        return Interlocked.CompareExchange(ref _cursors.Tail, tail + count, tail) == tail; // full fence; ordered with Close
    }

    /// <summary>
    /// Closes the ring for its producer (any thread, idempotent): every <see cref="TryPublish"/> ordered after this
    /// fails. Returns the records published before the close (all of them readable by the consumer).
    /// </summary>
    public long Close()
    {
        long tail = Volatile.Read(ref _cursors.Tail);
        while ((tail & ClosedBit) == 0)
        {
            long seen = Interlocked.CompareExchange(ref _cursors.Tail, tail | ClosedBit, tail); // full fence; ordered with TryPublish
            if (seen == tail)
            {
                break;
            }

            tail = seen;
        }

        return tail & ~ClosedBit;
    }

    /// <summary>Producer: writes one record if there is room, publishing it (release). False when full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite(in T item)
    {
        if (FreeSpace() < 1)
        {
            return false;
        }

        ProducerSlot(0) = item;
        Publish(1);
        return true;
    }

    /// <summary>Producer: writes as many of <paramref name="items"/> as fit, published with one release store; returns how many.</summary>
    public int TryWrite(ReadOnlySpan<T> items)
    {
        int count = Math.Min(items.Length, FreeSpace(items.Length));
        if (count <= 0)
        {
            return 0;
        }

        for (int i = 0; i < count; i++)
        {
            ProducerSlot(i) = items[i];
        }

        Publish(count);
        return count;
    }

    /// <summary>Producer: counts records dropped by policy (producer-owned counter; read with <see cref="DroppedCount"/>).</summary>
    public void CountDropped(long count = 1) => Volatile.Write(ref _cursors.Dropped, _cursors.Dropped + count); // release: readers see whole values

    // ---------------------------------------------------------------- consumer side

    /// <summary>
    /// Consumer: how many records are readable, refreshing the cached tail only when the cached view holds fewer than
    /// <paramref name="wanted"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Available(int wanted = 1)
    {
        long head = _cursors.Head; // consumer-owned
        long available = _cursors.CachedTail - head;
        if (available >= wanted)
        {
            return (int)available;
        }

        _cursors.CachedTail = Volatile.Read(ref _cursors.Tail) & ~ClosedBit; // acquire: pairs with the producer's publish
        return (int)(_cursors.CachedTail - head);
    }

    /// <summary>
    /// Consumer: the readable records from the head up to the end of the buffer (at most <paramref name="max"/>); a
    /// second call after <see cref="Advance"/> returns the part that wrapped around. Empty when nothing is readable.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<T> PeekContiguous(int max = int.MaxValue)
    {
        int available = Math.Min(Available(Math.Min(max, _capacity)), max);
        int start = (int)(_cursors.Head & _mask);
        int count = Math.Min(available, _capacity - start);
        return new ReadOnlySpan<T>(_slots + start, count);
    }

    /// <summary>Consumer: returns <paramref name="count"/> read slots to the producer with one release store of the head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count)
    {
        Debug.Assert(count >= 0 && count <= _cursors.CachedTail - _cursors.Head, "Advance past what was read.");
        Volatile.Write(ref _cursors.Head, _cursors.Head + count); // release: our reads of the slots happen before reuse
    }

    /// <summary>Consumer: copies up to <paramref name="destination"/>'s length of records out, wrapping, with one head store.</summary>
    public int TryRead(Span<T> destination)
    {
        int total = Math.Min(destination.Length, Available(Math.Min(destination.Length, _capacity)));
        int start = (int)(_cursors.Head & _mask);
        int first = Math.Min(total, _capacity - start);
        new ReadOnlySpan<T>(_slots + start, first).CopyTo(destination);
        new ReadOnlySpan<T>(_slots, total - first).CopyTo(destination[first..]);
        if (total > 0)
        {
            Advance(total);
        }

        return total;
    }

    /// <summary>Consumer: reads one record. False when empty.</summary>
    public bool TryRead(out T item)
    {
        if (Available() < 1)
        {
            item = default;
            return false;
        }

        item = Slot(_cursors.Head);
        Advance(1);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref T Slot(long index) => ref _slots[index & _mask];

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int RefreshFreeSpace(long tail)
    {
        _cursors.CachedHead = Volatile.Read(ref _cursors.Head); // acquire: the consumer finished reading those slots
        return (int)Math.Max(_capacity - (tail - _cursors.CachedHead), int.MinValue); // closed: the ClosedBit makes it very negative
    }
}
