using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IpiEngine.Rings;

/// <summary>
/// A bounded single-producer single-consumer ring of blittable records: power-of-two capacity, indices that only grow
/// (64-bit, masked into the buffer), producer and consumer cursors on separate padded lines, each side caching the
/// other's cursor so that it touches the shared line only when the ring looks full (producer) or empty (consumer).
/// </summary>
/// <remarks>
/// Exactly one thread produces and one consumes at any time. The producer writes slots with plain stores and makes a
/// whole batch visible with one store of the tail (<see cref="Publish"/>: release; <see cref="PublishFenced"/>: a full
/// fence, for callers that must then read shared state, such as a doorbell). The consumer reads slots after an acquire
/// load of the tail and returns them with one release store of the head (<see cref="Advance"/>).
/// </remarks>
/// <typeparam name="T">The record type (blittable).</typeparam>
[DebuggerDisplay("Published = {PublishedCount}, Consumed = {ConsumedCount}, Capacity = {Capacity}")]
public sealed class SpscRing<T> where T : unmanaged
{
    private readonly T[] _buffer;
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

        _buffer = new T[capacity];
        _mask = capacity - 1;
    }

    /// <summary>How many records the ring holds at most.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Records published since creation (an acquire read of the tail; any thread).</summary>
    public long PublishedCount => Volatile.Read(ref _cursors.Tail);

    /// <summary>Records consumed since creation (an acquire read of the head; any thread).</summary>
    public long ConsumedCount => Volatile.Read(ref _cursors.Head);

    /// <summary>Records the producer counted as dropped through <see cref="CountDropped"/>.</summary>
    public long DroppedCount => Volatile.Read(ref _cursors.Dropped);

    /// <summary>True when everything published has been consumed (any thread; a snapshot).</summary>
    public bool IsEmpty => Volatile.Read(ref _cursors.Head) == Volatile.Read(ref _cursors.Tail);

    // ---------------------------------------------------------------- producer side

    /// <summary>Producer: free slots, refreshing the cached head only when the cached view says the ring is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FreeSpace(int wanted = 1)
    {
        long tail = _cursors.Tail; // producer-owned: a plain read sees our own last store
        long free = _buffer.Length - (tail - _cursors.CachedHead);
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
        Debug.Assert((uint)offset < (uint)_buffer.Length, "Claim no more slots than FreeSpace returned.");
        return ref Slot(_cursors.Tail + offset);
    }

    /// <summary>Producer: makes the next <paramref name="count"/> written slots visible with one release store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish(int count)
        => Volatile.Write(ref _cursors.Tail, _cursors.Tail + count); // release: the slots' stores are visible first

    /// <summary>
    /// Producer: like <see cref="Publish"/> but with a full fence (one locked exchange), so that a later load by this
    /// thread (for example of a doorbell word) cannot be ordered before the tail store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PublishFenced(int count)
        => Interlocked.Exchange(ref _cursors.Tail, _cursors.Tail + count); // full fence: store tail, then later loads

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

        _cursors.CachedTail = Volatile.Read(ref _cursors.Tail); // acquire: pairs with the producer's publish
        return (int)(_cursors.CachedTail - head);
    }

    /// <summary>
    /// Consumer: the readable records from the head up to the end of the buffer (at most <paramref name="max"/>); a
    /// second call after <see cref="Advance"/> returns the part that wrapped around. Empty when nothing is readable.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<T> PeekContiguous(int max = int.MaxValue)
    {
        int available = Math.Min(Available(Math.Min(max, _buffer.Length)), max);
        int start = (int)(_cursors.Head & _mask);
        int count = Math.Min(available, _buffer.Length - start);
        return new ReadOnlySpan<T>(_buffer, start, count);
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
        int total = Math.Min(destination.Length, Available(Math.Min(destination.Length, _buffer.Length)));
        int start = (int)(_cursors.Head & _mask);
        int first = Math.Min(total, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, total - first).CopyTo(destination[first..]);
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
    private ref T Slot(long index) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_buffer), (nint)(index & _mask));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int RefreshFreeSpace(long tail)
    {
        _cursors.CachedHead = Volatile.Read(ref _cursors.Head); // acquire: the consumer finished reading those slots
        return (int)(_buffer.Length - (tail - _cursors.CachedHead));
    }
}
