using System.Runtime.InteropServices;

namespace IpiEngine.Delivery;

/// <summary>
/// A preallocated, append-only log of deliveries in native memory: batches reserve a range with one atomic add and
/// copy their entries in. When full, further entries are counted in <see cref="Overflowed"/> and nothing is allocated.
/// Read it when the engine is stopped (a range is reserved before it is written).
/// </summary>
public sealed unsafe class DeliveryLog : IDisposable
{
    private DeliveryLogEntry* _entries;
    private long _reserved;
    private long _overflowed;

    /// <summary>Allocates room for <paramref name="capacity"/> entries.</summary>
    public DeliveryLog(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _entries = (DeliveryLogEntry*)NativeMemory.AlignedAlloc((nuint)capacity * (nuint)sizeof(DeliveryLogEntry), 64);
    }

    /// <summary>How many entries fit.</summary>
    public int Capacity { get; }

    /// <summary>How many entries were written.</summary>
    public int Count => (int)Math.Min(Volatile.Read(ref _reserved), Capacity);

    /// <summary>Entries that did not fit.</summary>
    public long Overflowed => Volatile.Read(ref _overflowed);

    /// <summary>The written entries (valid until disposal; read once the engine has stopped).</summary>
    public ReadOnlySpan<DeliveryLogEntry> Entries
    {
        get
        {
            ObjectDisposedException.ThrowIf(_entries == null, this);
            return new ReadOnlySpan<DeliveryLogEntry>(_entries, Count);
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

    /// <summary>Frees the memory (after the engine stopped).</summary>
    public void Dispose()
    {
        DeliveryLogEntry* entries = _entries;
        _entries = null;
        if (entries != null)
        {
            NativeMemory.AlignedFree(entries);
        }
    }
}
