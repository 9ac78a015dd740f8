using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace IpiEngine.Rings;

/// <summary>
/// A bounded single-producer single-consumer ring of blittable records: power-of-two capacity, indices that only grow
/// (64-bit, masked into the buffer), producer and consumer cursors on separate padded lines, each side caching the
/// other's cursor so that it touches the shared line only when the ring looks full (producer) or empty (consumer).
/// </summary>
/// <remarks>
/// Exactly one thread produces and one consumes at any time. The producer writes slots with plain stores and makes a
/// whole batch visible with one release store of the tail (<see cref="Publish"/>; <see cref="TryPublish"/> then also
/// reads the close flag, a plain load). No producer path executes a locked instruction or a fence: where an order
/// between the producer's tail store and a later load of its own is needed (the close flag here, a doorbell word in
/// <see cref="DoorbellBitmap"/>), the rare side pays for it with <see cref="Interlocked.MemoryBarrierProcessWide"/>
/// (membarrier on Linux), which runs a full barrier on every processor that runs a thread of the process. So for any
/// producer thread the barrier falls somewhere in its program order: a store the producer made before that point is
/// visible to every load the rare side makes after its barrier, and a load the producer makes after that point sees
/// every store the rare side made before its barrier. Hence the asymmetric Dekker rule used below: if the rare side
/// stores X, barriers, then loads Y, and the producer stores Y, then loads X, at least one of the two loads sees the
/// other side's store. (The JIT keeps volatile accesses in program order; the hardware's store-to-load reordering is the
/// one the barrier covers, on Arm64 as on x86: nothing here relies on a release store and a later acquire load being
/// ordered by themselves, which an RCpc acquire (LDAPR) does not promise.) The consumer
/// reads slots after an acquire load of the tail and returns them with one release store of the head
/// (<see cref="Advance"/>).
/// <para>
/// Closing (why a publication and a close can never cross: every record is either drained and counted, or refused to
/// its producer, never both, never neither). The closer (1) sets <c>Closed</c> with an atomic exchange, (2) runs the
/// process-wide barrier, (3) reads the tail and (4) seals it: the first closer's compare and swap stores it once as
/// <c>FinalTail</c>, which every reader then uses as the ring's published count. The producer (a) stores its new tail
/// t (release), then (b) loads <c>Closed</c>. Proof, in three parts.
/// (i) A producer that reads <c>Closed</c> clear is included: by the asymmetric rule, (3) sees t, and the sealed value
/// (some closer's (3), each made after its own barrier) is at least t, so the closer's drain takes the record and
/// <see cref="TryPublish"/> returns true.
/// (ii) A producer that reads it set waits for the seal (the closer is between (1) and (4), a bounded step that takes
/// no lock) and compares: the sealed tail is a value this producer once stored, so it is either at least t (included:
/// true) or at most the previous tail (refused: false, and its records lie at or above the seal).
/// (iii) Nothing at or above the seal is ever read, so a refused record is never drained. Every reader of the tail
/// (<see cref="Available"/>, <see cref="PublishedCount"/>, <see cref="IsEmpty"/>) loads the tail (acquire) and then
/// <c>Closed</c> (acquire); if the flag is set it uses the seal instead (waiting for it as in (ii)). If the flag read
/// clear, the tail read is at most the seal: the closer's (1) was visible to all before its (3), and (3) read a tail
/// below this one only if this one became visible after (3), so before this reader's later load of the flag, which
/// would then have seen (1) (x86 and Arm64 give every processor one order of stores). So the consumer's head, and every
/// count a reader adds up, never passes the seal.
/// Two closers (a stop and a fault) are safe: each sets the flag and barriers before its (3), so (i) holds for both
/// reads, and the compare and swap keeps one seal. A producer may still write slots after a close; they lie at or
/// above the seal, which the consumer never reaches, and its next <see cref="TryPublish"/> is refused again.
/// <see cref="Publish"/> ignores a close and is for rings that are never closed.
/// </para>
/// <para>
/// The slots start on a <see cref="CacheLine.Size"/> boundary (pinned, aligned by hand), so a record whose size divides
/// the line (the 32-byte <see cref="ExitRecord"/>) never straddles two lines.
/// </para>
/// <para>
/// Streamed slots. A producer may write slots with non-temporal stores (x86 <c>vmovntdq</c>, as
/// <see cref="ExitRecord.CopyAsPosted"/> does for long runs). Those are the one kind of x86 store not ordered with the
/// stores after it, so the tail's release store alone would not make them visible first: such a producer publishes
/// with <see cref="TryPublishStreamed"/>, which runs <c>sfence</c> (every earlier store, streamed or not, is globally
/// visible before any later one) and then <see cref="TryPublish"/>. A consumer that acquire-reads that tail then reads
/// the slots as written, as with plain stores; nothing else changes.
/// </para>
/// </remarks>
/// <typeparam name="T">The record type (blittable).</typeparam>
[DebuggerDisplay("Published = {PublishedCount}, Consumed = {ConsumedCount}, Capacity = {Capacity}")]
internal sealed unsafe class SpscRing<T> where T : unmanaged
{
    private readonly byte[] _storage; // pinned: the slots live inside it, from _slots
    private readonly T* _slots;       // on a CacheLine.Size boundary
    private readonly int _capacity;
    private readonly long _mask;

    /// <summary>The most bytes of records one ring's storage holds: one array, less the alignment slack.</summary>
    private const long MaxStorageBytes = 1L << 30;
    private SpscCursors _cursors;

    /// <summary>Creates an empty ring.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not a power of two of at least 2, or its
    /// storage would not fit one array.</exception>
    public SpscRing(int capacity)
    {
        if (capacity < 2 || !BitOperations.IsPow2(capacity))
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The ring capacity must be a power of two of at least 2.");
        }

        if ((long)capacity * sizeof(T) > MaxStorageBytes)
        {
            // Checked in 64 bits: in 32 the size wraps (2^27 records of 32 bytes to 0), and the ring writes past its block.
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"A ring of {sizeof(T)}-byte records holds at most {MaxStorageBytes / sizeof(T)} records.");
        }

        _capacity = capacity;
        _mask = capacity - 1;
        _slots = (T*)CacheLine.AllocatePinnedAligned(capacity * sizeof(T), CacheLine.Size, out _storage);
        _cursors.FinalTail = -1; // not sealed
    }

    /// <summary>How many records the ring holds at most.</summary>
    public int Capacity => _capacity;

    /// <summary>
    /// Records published since creation (any thread): the tail, or once closed the sealed tail (refused records never
    /// count; see the class remarks).
    /// </summary>
    public long PublishedCount => ReadableTail();

    /// <summary>Whether a close began (an acquire read; any thread).</summary>
    public bool IsClosed => Volatile.Read(ref _cursors.Closed) != 0;

    /// <summary>The address of the slot that index <paramref name="index"/> maps to (alignment checks).</summary>
    internal nint SlotAddress(long index) => (nint)(_slots + (index & _mask));

    /// <summary>Records consumed since creation (an acquire read of the head; any thread).</summary>
    public long ConsumedCount => Volatile.Read(ref _cursors.Head);

    /// <summary>Records the producer counted as dropped through <see cref="CountDropped"/>.</summary>
    public long DroppedCount => Volatile.Read(ref _cursors.Dropped);

    /// <summary>True when everything published has been consumed (any thread; a snapshot).</summary>
    public bool IsEmpty => Volatile.Read(ref _cursors.Head) == ReadableTail(); // acquire: the head first, so it never passes the tail read after

    // ---------------------------------------------------------------- producer side

    /// <summary>
    /// Producer: free slots, refreshing the cached head only when the cached view says the ring is full. A close does
    /// not show here (<see cref="TryPublish"/> refuses what is published after it; callers check <see cref="IsClosed"/>
    /// before waiting for room).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FreeSpace(int wanted = 1)
    {
        long tail = _cursors.Tail; // producer-owned
        long free = _capacity - (tail - _cursors.CachedHead);
        if (free >= wanted)
        {
            return (int)free;
        }

        return RefreshFreeSpace(tail);
    }

    /// <summary>
    /// Producer: whether the cached head leaves room for one more record (no load of the consumer's line and no call;
    /// when false, <see cref="FreeSpace"/> refreshes the cached head).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasCachedRoom() => _cursors.Tail - _cursors.CachedHead < _capacity; // producer-owned fields

    /// <summary>Producer: the slot <paramref name="offset"/> places past the tail (the caller made sure of the room: <see cref="FreeSpace"/> or <see cref="HasCachedRoom"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T ProducerSlot(int offset)
    {
        Debug.Assert((uint)offset < (uint)_capacity, "Claim no more slots than FreeSpace returned.");
        return ref Slot(_cursors.Tail + offset);
    }

    /// <summary>
    /// Producer: the free slots from <paramref name="offset"/> places past the tail, at most <paramref name="max"/>, up to
    /// the end of the storage (the caller made sure of the room; a run that wraps takes a second call).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> ProducerSpan(int offset, int max)
    {
        Debug.Assert((uint)offset + (uint)max <= (uint)_capacity, "Claim no more slots than FreeSpace returned.");
        int start = (int)((_cursors.Tail + offset) & _mask);
        return new Span<T>(_slots + start, Math.Min(max, _capacity - start));
    }

    /// <summary>Producer: makes the next <paramref name="count"/> written slots visible with one release store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish(int count)
        => Volatile.Write(ref _cursors.Tail, _cursors.Tail + count); // release: the slots' stores are visible first

    /// <summary>
    /// Producer: makes the next <paramref name="count"/> written slots visible with one release store, then checks the
    /// close flag (a plain load of the producer's own line). True when the records are taken; false when the ring was
    /// closed and the closer's seal excludes them: they will never be read or counted (see the class remarks). No
    /// locked instruction and no fence: a caller that must order a later load after the tail store relies on the rare
    /// side's process-wide barrier, as <see cref="DoorbellBitmap.Ring"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPublish(int count)
    {
        long tail = _cursors.Tail + count; // producer-owned
        Volatile.Write(ref _cursors.Tail, tail); // release: the slots' stores are visible first; no fence (class remarks)
        return Volatile.Read(ref _cursors.Closed) == 0 // after the tail store in program order; the closer's barrier orders the pair (class remarks, (i))
            || SealIncludes(tail); // closed: taken only if the seal includes this publication ((ii))
    }

    /// <summary>
    /// Producer: <see cref="TryPublish"/> for slots written with non-temporal stores: a store fence first, so they are
    /// visible before the tail (class remarks, "Streamed slots"). Only where <see cref="Sse.IsSupported"/>, as those
    /// stores are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPublishStreamed(int count)
    {
        Sse.StoreFence(); // the streamed slot stores become visible before the tail store that publishes them
        return TryPublish(count);
    }

    /// <summary>
    /// Closes the ring for its producer (any thread, idempotent): <see cref="BeginClose"/>, the process-wide barrier,
    /// <see cref="Seal"/>. Returns the records published before the close (all of them readable by the consumer).
    /// To close many rings, call <see cref="BeginClose"/> on each, one barrier, then <see cref="Seal"/> on each.
    /// </summary>
    public long Close()
    {
        BeginClose();
        Interlocked.MemoryBarrierProcessWide(); // every producer's unfenced publish-then-check is ordered against the flag (class remarks)
        return Seal();
    }

    /// <summary>Closer, step (1): sets the close flag. Follow with <see cref="Interlocked.MemoryBarrierProcessWide"/>, then <see cref="Seal"/>.</summary>
    public void BeginClose() => Interlocked.Exchange(ref _cursors.Closed, 1); // full fence on this thread; the barrier that follows covers the producers

    /// <summary>
    /// Closer, steps (3) and (4), after <see cref="BeginClose"/> and a process-wide barrier: reads the tail and seals it
    /// (the first seal wins). Returns the sealed tail.
    /// </summary>
    public long Seal()
    {
        long tail = Volatile.Read(ref _cursors.Tail); // acquire, after the barrier: every publish whose check missed the flag is seen, with its slots
        long sealedBefore = Interlocked.CompareExchange(ref _cursors.FinalTail, tail, -1); // full fence: publishes the seal (release) once
        return sealedBefore < 0 ? tail : sealedBefore;
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

        _cursors.CachedTail = ReadableTail();
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

    /// <summary>The tail a reader may use (any thread): the published tail while open, the seal once closed ((iii)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long ReadableTail()
    {
        long tail = Volatile.Read(ref _cursors.Tail); // acquire: pairs with the producer's publish; the slots are visible
        return Volatile.Read(ref _cursors.Closed) == 0 // acquire, after the tail: clear means the tail read is within the seal ((iii))
            ? tail
            : WaitForSeal();
    }

    /// <summary>
    /// Whether the seal includes a publication that ended at <paramref name="tail"/> (<see cref="TryPublish"/> on a closed
    /// ring). A call of its own, so the publishing caller keeps nothing live across it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SealIncludes(long tail) => WaitForSeal() >= tail;

    /// <summary>The sealed tail, waiting for a closer between its flag and its seal (a short step that takes no lock).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long WaitForSeal()
    {
        var spin = new SpinWait();
        long sealedTail;
        while ((sealedTail = Volatile.Read(ref _cursors.FinalTail)) < 0) // acquire: pairs with the seal's compare and swap
        {
            spin.SpinOnce();
        }

        return sealedTail;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int RefreshFreeSpace(long tail)
    {
        _cursors.CachedHead = Volatile.Read(ref _cursors.Head); // acquire: the consumer finished reading those slots
        return (int)(_capacity - (tail - _cursors.CachedHead));
    }
}
