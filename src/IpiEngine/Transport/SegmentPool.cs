using System.Buffers;

namespace IpiEngine.Transport;

/// <summary>
/// The links' pipe segments: fixed-size arrays that, once allocated, are kept for reuse for the life of the process,
/// so a link's steady state allocates nothing whatever its traffic's bursts did before. The shared
/// <see cref="ArrayPool{T}"/> keeps a bounded number of arrays per size and core; with segments of hundreds of KiB a
/// burst past that bound cost a fresh array, which showed in the loopback benchmarks as bytes per IPI. This pool grows to
/// the most segments ever in use at once and never shrinks.
/// </summary>
internal sealed class SegmentPool : MemoryPool<byte>
{
    private readonly Lock _gate = new();
    private readonly Stack<Segment> _free = new(); // under _gate; grows to the peak number of segments in use
    private readonly int _segmentBytes;

    /// <summary>A pool of <paramref name="segmentBytes"/>-byte segments (the links use <see cref="Send"/> and <see cref="Receive"/>).</summary>
    internal SegmentPool(int segmentBytes) => _segmentBytes = segmentBytes;

    /// <summary>Segments for the links' send pipes.</summary>
    public static SegmentPool Send { get; } = new(LinkConnection.SendSegmentBytes);

    /// <summary>Segments for the links' receive pipes.</summary>
    public static SegmentPool Receive { get; } = new(LinkConnection.ReceiveSegmentBytes);

    /// <summary>Every segment's size; the pipes allocate a larger request themselves (none of the links' writes is).</summary>
    public override int MaxBufferSize => _segmentBytes;

    /// <summary>Segments allocated so far (diagnostics and tests).</summary>
    public int Allocated { get; private set; }

    /// <summary>Segments a pipe holds right now (diagnostics and tests).</summary>
    public int InUse
    {
        get
        {
            lock (_gate)
                return Allocated - _free.Count;
        }
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, _segmentBytes);
        lock (_gate)
        {
            if (_free.TryPop(out var segment))
            {
                segment.Rented = true;
                return segment;
            }

            Allocated++;
        }

        return new Segment(this, new byte[_segmentBytes]) { Rented = true };
    }

    protected override void Dispose(bool disposing)
    {
        // Shared for the life of the process: nothing to release.
    }

    private void Return(Segment segment)
    {
        lock (_gate)
        {
            if (!segment.Rented)
            {
                return; // a second Dispose of one rental: the segment is already free
            }

            segment.Rented = false;
            _free.Push(segment);
        }
    }

    private sealed class Segment(SegmentPool pool, byte[] array) : IMemoryOwner<byte>
    {
        /// <summary>Under the pool's gate: whether a pipe holds it.</summary>
        public bool Rented { get; set; }

        public Memory<byte> Memory => array;

        public void Dispose() => pool.Return(this);
    }
}
