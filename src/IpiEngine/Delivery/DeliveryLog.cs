using System.Runtime.CompilerServices;

namespace IpiEngine.Delivery;

/// <summary>
/// A preallocated log of deliveries (an array of blittable entries). In <see cref="DeliveryLogMode.First"/> mode batches
/// reserve a range with one atomic add and copy their entries in; when full, further entries are counted in
/// <see cref="Overflowed"/>. In <see cref="DeliveryLogMode.Sample"/> mode it keeps an evenly spread random sample of all
/// deliveries, in delivery order (batches take a lock; skipped deliveries cost nothing each). Nothing is allocated
/// after construction. Read it when the engine is stopped (<see cref="Entries"/>): the pipeline's threads have ended, but
/// a stopped engine still applies what its links deliver, so those appends hold <see cref="LateAppendGate"/> and a read
/// takes it too.
/// </summary>
internal sealed class DeliveryLog : IDisposable
{
    private readonly DeliveryLogEntry[] _entries;
    private readonly Lock _sampleGate = new();
    private readonly Lock _lateAppendGate = new();
    private readonly Random? _random;
    private readonly int _sampleCapacity; // Sample: an even number of slots, so that halving pairs them all
    private volatile bool _disposed;
    private long _reserved; // First: entries offered so far; Sample: deliveries seen so far
    private long _overflowed;
    private int _kept;      // Sample: entries in the log
    private long _stride = 1; // Sample: one delivery kept per block of this many (a power of two)
    private long _pick;     // Sample: the index of the delivery to keep in the current block

    /// <summary>Allocates room for <paramref name="capacity"/> entries (at least 2 for <see cref="DeliveryLogMode.Sample"/>).</summary>
    public DeliveryLog(int capacity, DeliveryLogMode mode = DeliveryLogMode.First)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (mode is not (DeliveryLogMode.First or DeliveryLogMode.Sample))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown delivery log mode.");
        }

        if (mode == DeliveryLogMode.Sample)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
            _random = new Random(0x1AB1); // fixed seed: the same deliveries give the same sample
            _sampleCapacity = capacity & ~1;
        }

        Capacity = capacity;
        Mode = mode;
        _entries = new DeliveryLogEntry[capacity];
    }

    /// <summary>How many entries fit.</summary>
    public int Capacity { get; }

    /// <summary>Which deliveries the log keeps.</summary>
    public DeliveryLogMode Mode { get; }

    /// <summary>How many entries were written.</summary>
    public int Count => _random is null ? (int)Math.Min(Volatile.Read(ref _reserved), Capacity) : Volatile.Read(ref _kept);

    /// <summary>
    /// Deliveries offered to <see cref="Append"/> and not kept: those that did not fit (First), or those the sample left
    /// out (Sample). The engine's batchers stop offering once <see cref="IsFull"/> and count the rest themselves
    /// (<see cref="CounterSlot.LogSkipped"/>): <see cref="EngineCounters.LogOverflow"/> is the total.
    /// </summary>
    public long Overflowed => Volatile.Read(ref _overflowed);

    /// <summary>
    /// A <see cref="DeliveryLogMode.First"/> log with no room left: it will keep nothing more, so a writer may stop
    /// building entries for it. Never true for a sampling log. Once true, stays true (<see cref="_reserved"/> only grows).
    /// </summary>
    internal bool IsFull => _random is null && Volatile.Read(ref _reserved) >= Capacity; // acquire: a stale false only costs one more Append

    /// <summary>
    /// Held by every append that may run after the engine stopped: the remote path's (<c>DeliverRemote</c> holds it for
    /// its whole call), the only writer left once the pipeline's threads have ended.
    /// </summary>
    internal Lock LateAppendGate => _lateAppendGate;

    /// <summary>
    /// The written entries, in delivery order; read once the engine has stopped. Taken under <see cref="LateAppendGate"/>,
    /// so no append is under way: a First log's entries below its count are all written in full, and a later append
    /// writes past them, so the span stays as read; a Sample log's later append may halve the log in place, so its
    /// entries are copied.
    /// </summary>
    public ReadOnlySpan<DeliveryLogEntry> Entries
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            lock (_lateAppendGate)
            {
                return _random is null ? new ReadOnlySpan<DeliveryLogEntry>(_entries, 0, Count) : _entries.AsSpan(0, Count).ToArray();
            }
        }
    }

    /// <summary>Appends entries, stamping each with <paramref name="deliverTimestamp"/>; any thread.</summary>
    [MethodImpl(HotPath.Optimized)]
    internal void Append(ReadOnlySpan<DeliveryLogEntry> entries, long deliverTimestamp)
    {
        if (entries.IsEmpty)
        {
            return;
        }

        if (_random is not null)
        {
            AppendSampled(entries, deliverTimestamp);
            return;
        }

        long start = Interlocked.Add(ref _reserved, entries.Length) - entries.Length; // claims a private range
        long fit = Math.Clamp(Capacity - start, 0, entries.Length);
        for (int i = 0; i < fit; i++)
        {
            _entries[start + i] = entries[i].WithDeliverTimestamp(deliverTimestamp);
        }

        if (fit < entries.Length)
        {
            Interlocked.Add(ref _overflowed, entries.Length - fit);
        }
    }

    /// <summary>
    /// Stratified sampling with halving: the stream is cut into blocks of <see cref="_stride"/> deliveries and one
    /// delivery at a random position of each block is kept, so the sample spreads evenly over the whole stream without
    /// locking onto a periodic traffic pattern. When the log fills, each pair of neighbouring entries keeps one of the two
    /// at random (then each kept entry is a random pick of a block twice as long) and the stride doubles. The writes are
    /// sequential; a skipped delivery costs nothing.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    private void AppendSampled(ReadOnlySpan<DeliveryLogEntry> entries, long deliverTimestamp)
    {
        lock (_sampleGate)
        {
            long first = _reserved;
            long end = first + entries.Length;
            while (_pick < end)
            {
                _entries[_kept++] = entries[(int)(_pick - first)].WithDeliverTimestamp(deliverTimestamp);
                long nextBlock = _pick - (_pick & (_stride - 1)) + _stride; // blocks start at multiples of the stride
                if (_kept == _sampleCapacity)
                {
                    Halve();
                }

                _pick = nextBlock + (_stride == 1 ? 0 : _random!.NextInt64(_stride));
            }

            Volatile.Write(ref _overflowed, end - _kept); // release: readers see whole values
            Volatile.Write(ref _reserved, end);
        }
    }

    [MethodImpl(HotPath.Optimized)]
    private void Halve()
    {
        for (int i = 0; i < _sampleCapacity / 2; i++)
        {
            _entries[i] = _entries[(2 * i) + _random!.Next(2)];
        }

        _kept = _sampleCapacity / 2;
        _stride *= 2; // the log held whole blocks: the next one starts at a multiple of the doubled stride too
    }

    /// <summary>Refuses further reads through <see cref="Entries"/>.</summary>
    public void Dispose() => _disposed = true;
}
