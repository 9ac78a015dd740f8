namespace IpiEngine.Delivery;

/// <summary>
/// A preallocated, append-only log of deliveries (an array of blittable entries): batches reserve a range with one
/// atomic add and copy their entries in. When full, further entries are counted in <see cref="Overflowed"/> and nothing
/// is allocated. Read it when the engine is stopped (a range is reserved before it is written).
/// </summary>
public sealed class DeliveryLog : IDisposable
{
    private readonly DeliveryLogEntry[] _entries;
    private volatile bool _disposed;
    private long _reserved;
    private long _overflowed;

    /// <summary>Allocates room for <paramref name="capacity"/> entries.</summary>
    public DeliveryLog(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _entries = new DeliveryLogEntry[capacity];
    }

    /// <summary>How many entries fit.</summary>
    public int Capacity { get; }

    /// <summary>How many entries were written.</summary>
    public int Count => (int)Math.Min(Volatile.Read(ref _reserved), Capacity);

    /// <summary>Entries that did not fit.</summary>
    public long Overflowed => Volatile.Read(ref _overflowed);

    /// <summary>The written entries (read once the engine has stopped).</summary>
    public ReadOnlySpan<DeliveryLogEntry> Entries
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new ReadOnlySpan<DeliveryLogEntry>(_entries, 0, Count);
        }
    }

    /// <summary>Appends entries, stamping each with <paramref name="deliverTimestamp"/>; any thread.</summary>
    internal void Append(ReadOnlySpan<DeliveryLogEntry> entries, long deliverTimestamp)
    {
        if (entries.IsEmpty)
        {
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

    /// <summary>Refuses further reads through <see cref="Entries"/>.</summary>
    public void Dispose() => _disposed = true;
}
