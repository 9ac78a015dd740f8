using IpiEngine.Delivery;
using IpiEngine.Rings;

namespace IpiEngine.Transport;

/// <summary>
/// The bounded queue of one link: delivery records indexed by sequence number. One producer (the engine's delivery
/// stage) appends; the send loop reads from its own cursor; acknowledgements release. A record stays until the peer
/// acknowledges it, so a reconnect can resend it; a full queue makes the producer wait or refuse (the link's policy)
/// instead of buffering without bound.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> The queue is large (a second or more of a link's full-rate traffic), so it is not one ring:
/// a ring that large is walked end to end whatever the backlog, and every record then lands in memory untouched for
/// a whole lap (on the first lap a fresh page, zeroed by the kernel on the appending thread: most of the pipeline
/// thread's time in a 2-node run). Instead the sequence space is cut into segments of <see cref="SegmentRecords"/>
/// records, each mapped through a small table to one of <c>capacity / SegmentRecords + 1</c> slabs of one array
/// allocated once. The producer takes a slab for each new segment from its own free stack and pushes back the slabs
/// of segments the peer acknowledged in full, so the slab it takes next is the one released last: while the peer
/// keeps up, the same few slabs (a few hundred KB) cycle in cache, and memory grows only as far as the backlog ever
/// did.</para>
/// <para><b>Why the producer alone may recycle.</b> A slab returns to the free stack only when
/// <c>Acked &gt;= (k + 1) * SegmentRecords</c> for its segment k. The send loop reads only sequences at or above the
/// acknowledgement it started from and never past <see cref="Published"/>, and an acknowledgement is taken only up to
/// <see cref="SentOnConnection"/>, what the running connection's send loop has written (<see cref="ReleaseAcknowledged"/>: a
/// peer that acknowledges a record this connection has not written is refused; a resume block, before that loop starts
/// from the point it sets, only up to <see cref="Sent"/>), so no slice being sent lies in a recycled slab. The table has at least
/// <c>2 * capacity / SegmentRecords</c> entries, and at most <c>capacity / SegmentRecords + 1</c> segments are live
/// (published - acked never exceeds capacity), so a live segment's entry is never overwritten. There are enough slabs:
/// when the producer starts segment s, the live segments are those from <c>Acked / SegmentRecords</c> to s - 1, at
/// most capacity / SegmentRecords of them, so one of the capacity / SegmentRecords + 1 slabs is free.</para>
/// <para><b>Ordering.</b> The producer writes the table entry and the records before its release store of
/// <see cref="Published"/>; the send loop's acquire load of it orders its reads of both after.</para>
/// </remarks>
internal sealed class OutboundWindow
{
    /// <summary>Records per segment: 64 KB of records, a multiple of every frame size the send loop cuts.</summary>
    public const int SegmentRecords = 2048;

    private readonly RemoteDelivery[] _slabs;   // (capacity / segment + 1) slabs of one segment each; pages touched on first use
    private readonly int[] _table;              // segment number (mod length) -> slab; written by the producer only
    private readonly int[] _freeSlabs;          // the producer's free stack of slabs
    private readonly int _capacity, _segment, _segmentShift, _tableMask;
    private int _freeCount;                     // producer only
    private long _reclaimedSegments;            // producer only: segments below this have returned their slab
    private int _mostInUse;                     // producer only: high-water mark of slabs in use
    // Written by different threads, so each sits alone (padding is decided in Rings.CacheLine).
    private PaddedLong _published; // written by the producer only
    private PaddedLong _acked;     // written by the link's receive loop or handshake only
    private PaddedLong _sent;      // written by the holder of the link's send role only (its loop or a flushing thread)
    private PaddedLong _sentOnConnection; // likewise, and by the link as a connection starts, before its send loop does

    public OutboundWindow(int capacity)
    {
        if (capacity < 64 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the window must be a power of two of at least 64 records");
        _capacity = capacity;
        _segment = Math.Min(SegmentRecords, capacity);
        _segmentShift = System.Numerics.BitOperations.Log2((uint)_segment);
        int slabs = capacity / _segment + 1;
        _slabs = GC.AllocateUninitializedArray<RemoteDelivery>(slabs * _segment); // pages are touched only as the backlog first grows
        _table = new int[2 * (capacity / _segment)];
        _tableMask = _table.Length - 1;
        _freeSlabs = new int[slabs];
        for (int i = 0; i < slabs; i++)
            _freeSlabs[i] = slabs - 1 - i; // slab 0 on top: the first segments use the start of the array
        _freeCount = slabs;
    }

    public int Capacity => _capacity;

    /// <summary>Records appended so far (the next record's sequence number). Acquire: the records below it are written.</summary>
    public long Published => Volatile.Read(ref _published.Value);

    /// <summary>Records the peer has acknowledged (every sequence below it).</summary>
    public long Acked => Volatile.Read(ref _acked.Value);

    /// <summary>Free slots from the producer's point of view.</summary>
    public int Free => (int)(_capacity - (_published.Value - Acked));

    /// <summary>The most slabs in use at once so far (producer thread, or tests after it): the memory the queue has touched.</summary>
    internal int MostSlabsInUse => _mostInUse;

    /// <summary>
    /// Producer: appends up to <paramref name="records"/>.Length records, leaving <paramref name="reserve"/> slots free;
    /// returns how many fitted (0 when full). Appends stop at a segment's end: call again for the rest.
    /// </summary>
    public int Append(ReadOnlySpan<RemoteDelivery> records, int reserve = 0)
    {
        long published = _published.Value;
        int offset = (int)(published & (_segment - 1));
        int n = Math.Min(Math.Min(records.Length, Free - reserve), _segment - offset);
        if (n <= 0)
            return 0;
        if (offset == 0)
            StartSegment(published >> _segmentShift);
        int slab = _table[(int)(published >> _segmentShift) & _tableMask];
        records[..n].CopyTo(_slabs.AsSpan(slab * _segment + offset, n));
        // Release: the send loop that reads Published sees the table entry and the records written above.
        Volatile.Write(ref _published.Value, published + n);
        return n;
    }

    /// <summary>Producer: recycles the slabs of fully acknowledged segments, then gives segment <paramref name="segment"/> the last one freed.</summary>
    private void StartSegment(long segment)
    {
        long done = Acked >> _segmentShift; // segments below this are acknowledged in full
        for (; _reclaimedSegments < done; _reclaimedSegments++)
            _freeSlabs[_freeCount++] = _table[(int)_reclaimedSegments & _tableMask];
        _table[(int)segment & _tableMask] = _freeSlabs[--_freeCount];
        _mostInUse = Math.Max(_mostInUse, _freeSlabs.Length - _freeCount);
    }

    /// <summary>Send loop: the contiguous records from <paramref name="sequence"/>, at most <paramref name="max"/>, none past Published.</summary>
    public ReadOnlySpan<RemoteDelivery> Slice(long sequence, long published, int max)
    {
        int offset = (int)(sequence & (_segment - 1));
        int n = (int)Math.Min(Math.Min(published - sequence, max), _segment - offset);
        int slab = _table[(int)(sequence >> _segmentShift) & _tableMask];
        return _slabs.AsSpan(slab * _segment + offset, n);
    }

    /// <summary>The first record no connection has written yet: the most a resume block (which covers every earlier connection) can acknowledge.</summary>
    public long Sent => Volatile.Read(ref _sent.Value); // acquire: pairs with MarkSent's release

    /// <summary>The first record the running connection has not written yet: the most its acknowledgements can say.</summary>
    public long SentOnConnection => Volatile.Read(ref _sentOnConnection.Value); // acquire: pairs with MarkSent's release

    /// <summary>A connection starts: its send loop writes from <paramref name="cursor"/> (the acknowledged point). Called before that loop starts.</summary>
    public void BeginConnection(long cursor) => Volatile.Write(ref _sentOnConnection.Value, cursor); // release: the new loops start after it

    /// <summary>
    /// Send role: records below <paramref name="cursor"/> are written into the connection's pipe. Called before the flush
    /// that lets them out, so no acknowledgement of them can arrive before it; a resend's lower cursor leaves <see cref="Sent"/>.
    /// </summary>
    public void MarkSent(long cursor)
    {
        if (cursor != _sentOnConnection.Value) // a write of acknowledgements or heartbeats only leaves the receive loop's line clean
            Volatile.Write(ref _sentOnConnection.Value, cursor); // release: the receive loop's check of an acknowledgement reads it
        if (cursor > _sent.Value)
            Volatile.Write(ref _sent.Value, cursor); // release: the next handshake's check of a resume block reads it
    }

    /// <summary>Handshake: every record below <paramref name="sequence"/> was applied by the peer. False if no connection sent that.</summary>
    public bool Release(long sequence) => ReleaseUpTo(sequence, Sent);

    /// <summary>Receive loop: the peer acknowledges every record below <paramref name="sequence"/>. False if the running connection did not send that.</summary>
    public bool ReleaseAcknowledged(long sequence) => ReleaseUpTo(sequence, SentOnConnection);

    private bool ReleaseUpTo(long sequence, long sent)
    {
        if (sequence > sent)
            return false;
        if (sequence > _acked.Value)
            Volatile.Write(ref _acked.Value, sequence); // release: the producer may now reuse those slots
        return true;
    }
}
