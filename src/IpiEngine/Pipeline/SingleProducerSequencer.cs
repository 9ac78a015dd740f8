using System.Runtime.CompilerServices;

namespace IpiEngine.Pipeline;

/// <summary>
/// A sequencer for exactly one producing thread: claims are plain arithmetic on producer-owned fields, publication is
/// one release store of the cursor (then a signal to parked consumers, if any).
/// </summary>
internal sealed class SingleProducerSequencer : Sequencer
{
    private long _nextValue = Sequence.InitialValue;     // producer-owned: the last sequence claimed
    private long _cachedGating = Sequence.InitialValue;  // producer-owned: the last view of the slowest consumer

    /// <summary>Creates a sequencer.</summary>
    public SingleProducerSequencer(int bufferSize, WaitStrategy waitStrategy, EventCount signal)
        : base(bufferSize, waitStrategy, signal)
    {
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override bool TryNext(int count, out long highest)
    {
        long next = _nextValue + count;
        long wrapPoint = next - BufferSize;
        if (wrapPoint > _cachedGating && !RefreshGating(wrapPoint))
        {
            highest = _nextValue;
            return false;
        }

        _nextValue = next;
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
        => _nextValue + count - BufferSize <= Sequence.Minimum(GatingSequences, _nextValue);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool RefreshGating(long wrapPoint)
    {
        _cachedGating = Sequence.Minimum(GatingSequences, _nextValue); // acquire reads of each consumer's progress
        return wrapPoint <= _cachedGating;
    }
}
