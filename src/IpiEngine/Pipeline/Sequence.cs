using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Pipeline;

/// <summary>
/// A 64-bit sequence number alone on its padded lines: a producer's cursor or a processor's progress.
/// Starts at <see cref="InitialValue"/> (nothing processed).
/// </summary>
[DebuggerDisplay("{Value}")]
internal sealed class Sequence
{
    /// <summary>The value of a sequence that has seen nothing.</summary>
    public const long InitialValue = -1;

    private PaddedLong _value;

    /// <summary>Creates a sequence.</summary>
    public Sequence(long initialValue = InitialValue) => _value.Value = initialValue;

    /// <summary>Acquire read: what the owner published before storing this value is visible after.</summary>
    public long Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _value.Value);
    }

    /// <summary>Release store: everything written before is visible to a reader who sees the new value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetValue(long value) => Volatile.Write(ref _value.Value, value);

    /// <summary>Store with a full fence: later loads by this thread are not ordered before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetValueFenced(long value) => Interlocked.Exchange(ref _value.Value, value);

    /// <summary>Atomic compare-and-set (full fence).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool CompareAndSet(long expected, long value) => Interlocked.CompareExchange(ref _value.Value, value, expected) == expected;

    /// <summary>Atomic add (full fence); returns the new value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long AddAndGet(long increment) => Interlocked.Add(ref _value.Value, increment);

    /// <summary>The smallest value of <paramref name="sequences"/>, or <paramref name="fallback"/> when there are none.</summary>
    public static long Minimum(Sequence[] sequences, long fallback)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        long minimum = fallback;
        for (int i = 0; i < sequences.Length; i++)
        {
            minimum = Math.Min(minimum, sequences[i].Value);
        }

        return minimum;
    }
}
