using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Rings;

namespace IpiEngine.Pipeline;

/// <summary>
/// A sequencer for exactly one producing thread: claims are plain arithmetic on producer-owned fields, publication is
/// one release store of the cursor (then a signal to parked consumers, if any).
/// </summary>
internal sealed class SingleProducerSequencer : Sequencer
{
    // Padded: the base class's fields (cursor, wait strategy, signal, abort flag) are read by the consumers on every
    // wait, and the producer writes these on every claim; sharing a line would send it back and forth each time.
    private ProducerFields _producer = new() { NextValue = Sequence.InitialValue, CachedGating = Sequence.InitialValue };

    /// <summary>Creates a sequencer.</summary>
    public SingleProducerSequencer(int bufferSize, WaitStrategy waitStrategy, EventCount signal)
        : base(bufferSize, waitStrategy, signal)
    {
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override bool TryNext(int count, out long highest)
    {
        long next = _producer.NextValue + count;
        long wrapPoint = next - BufferSize;
        if (wrapPoint > _producer.CachedGating && !RefreshGating(wrapPoint))
        {
            highest = _producer.NextValue;
            return false;
        }

        _producer.NextValue = next;
        highest = next;
        return true;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override void Publish(long low, long high)
    {
        Cursor.SetValue(high); // release: the entries' stores are visible before the cursor
        Signal.Signal();
    }

    /// <inheritdoc/>
    public override long GetHighestPublishedSequence(long low, long available) => available;

    /// <inheritdoc/>
    protected override bool HasRoomFor(int count)
        => _producer.NextValue + count - BufferSize <= Sequence.Minimum(GatingSequences, _producer.NextValue);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool RefreshGating(long wrapPoint)
    {
        _producer.CachedGating = Sequence.Minimum(GatingSequences, _producer.NextValue); // acquire reads of each consumer's progress
        return wrapPoint <= _producer.CachedGating;
    }

    /// <summary>The producer-owned fields, on a line of their own.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 2 * CacheLine.PaddedSize)]
    private struct ProducerFields
    {
        /// <summary>The last sequence claimed.</summary>
        [FieldOffset(CacheLine.PaddedSize)] public long NextValue;

        /// <summary>The last view of the slowest consumer.</summary>
        [FieldOffset(CacheLine.PaddedSize + 8)] public long CachedGating;
    }
}
