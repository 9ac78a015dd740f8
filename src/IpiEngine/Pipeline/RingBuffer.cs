using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IpiEngine.Pipeline;

/// <summary>
/// The Disruptor's preallocated ring of entries, indexed by ever-growing 64-bit sequences masked into a power-of-two
/// buffer. Holds storage only: a <see cref="Sequencer"/> decides who may write and read which sequences.
/// </summary>
/// <typeparam name="T">The entry type (blittable).</typeparam>
internal sealed class RingBuffer<T> where T : unmanaged
{
    private readonly T[] _entries;
    private readonly long _mask;

    /// <summary>Creates a ring of <paramref name="bufferSize"/> default entries.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a power of two of at least 2.</exception>
    public RingBuffer(int bufferSize)
    {
        if (bufferSize < 2 || !BitOperations.IsPow2(bufferSize))
        {
            throw new ArgumentOutOfRangeException(nameof(bufferSize), bufferSize, "The buffer size must be a power of two of at least 2.");
        }

        _entries = new T[bufferSize];
        _mask = bufferSize - 1;
    }

    /// <summary>The number of entries.</summary>
    public int BufferSize => _entries.Length;

    /// <summary>The entry for a sequence (the caller owns it through the sequencer or a barrier).</summary>
    public ref T this[long sequence]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), (nint)(sequence & _mask));
    }
}
