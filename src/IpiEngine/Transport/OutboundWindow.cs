using System.Runtime.CompilerServices;
using IpiEngine.Delivery;
using IpiEngine.Rings;

namespace IpiEngine.Transport;

/// <summary>
/// The bounded in-flight window of one link: a power-of-two ring of delivery records indexed by sequence number.
/// One producer (the engine's delivery stage) appends; the send loop reads from its own cursor; acknowledgements
/// release. A record stays in the ring until the peer acknowledges it, so a reconnect can resend it; a full ring
/// makes the producer wait (back-pressure) instead of buffering without bound.
/// </summary>
internal sealed class OutboundWindow
{
    private readonly RemoteDelivery[] _ring;
    private readonly long _mask;
    // Written by different threads, so each sits alone (padding is decided in Rings.CacheLine).
    private PaddedLong _published; // written by the producer only
    private PaddedLong _acked;     // written by the link's receive loop or handshake only

    public OutboundWindow(int capacity)
    {
        if (capacity < 64 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the window must be a power of two of at least 64 records");
        _ring = GC.AllocateUninitializedArray<RemoteDelivery>(capacity); // pages are touched only as the queue fills
        _mask = capacity - 1;
    }

    public int Capacity => _ring.Length;

    /// <summary>Records appended so far (the next record's sequence number). Acquire: the records below it are written.</summary>
    public long Published => Volatile.Read(ref _published.Value);

    /// <summary>Records the peer has acknowledged (every sequence below it).</summary>
    public long Acked => Volatile.Read(ref _acked.Value);

    /// <summary>Free slots from the producer's point of view.</summary>
    public int Free => (int)(_ring.Length - (_published.Value - Acked));

    /// <summary>
    /// Producer: appends up to <paramref name="records"/>.Length records, leaving <paramref name="reserve"/> slots free;
    /// returns how many fitted (0 when full).
    /// </summary>
    public int Append(ReadOnlySpan<RemoteDelivery> records, int reserve = 0)
    {
        long published = _published.Value;
        int index = (int)(published & _mask);
        int n = Math.Min(Math.Min(records.Length, Free - reserve), _ring.Length - index);
        if (n <= 0)
            return 0;
        records[..n].CopyTo(_ring.AsSpan(index, n));
        // Release: the send loop that reads Published sees the records written above.
        Volatile.Write(ref _published.Value, published + n);
        return n;
    }

    /// <summary>Send loop: the contiguous records from <paramref name="sequence"/>, at most <paramref name="max"/>, none past Published.</summary>
    public ReadOnlySpan<RemoteDelivery> Slice(long sequence, long published, int max)
    {
        int index = (int)(sequence & _mask);
        int n = (int)Math.Min(Math.Min(published - sequence, max), _ring.Length - index);
        return _ring.AsSpan(index, n);
    }

    /// <summary>Receive loop: every record below <paramref name="sequence"/> was applied by the peer. False if that was never sent.</summary>
    public bool Release(long sequence)
    {
        if (sequence > Published)
            return false;
        if (sequence > _acked.Value)
            Volatile.Write(ref _acked.Value, sequence); // release: the producer may now reuse those slots
        return true;
    }
}
