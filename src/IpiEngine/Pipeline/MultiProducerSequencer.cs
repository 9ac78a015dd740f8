using System.Numerics;

namespace IpiEngine.Pipeline;

/// <summary>
/// A sequencer for callers who share one ring: producers claim ranges with a compare-and-set on the cursor and mark
/// each slot available with the round it belongs to, so consumers read only entries whose writes are complete even
/// when producers publish out of order.
/// </summary>
internal sealed class MultiProducerSequencer : Sequencer
{
    private readonly int[] _availableRound; // per slot: the round (sequence >> shift) last published there
    private readonly int _mask;
    private readonly int _shift;
    private readonly Sequence _gatingCache = new();

    /// <summary>Creates a sequencer.</summary>
    public MultiProducerSequencer(int bufferSize, WaitStrategy waitStrategy, EventCount signal)
        : base(bufferSize, waitStrategy, signal)
    {
        if (!BitOperations.IsPow2(bufferSize))
        {
            throw new ArgumentOutOfRangeException(nameof(bufferSize), bufferSize, "The buffer size must be a power of two.");
        }

        _availableRound = new int[bufferSize];
        Array.Fill(_availableRound, -1);
        _mask = bufferSize - 1;
        _shift = BitOperations.Log2((uint)bufferSize);
    }

    /// <inheritdoc/>
    public override bool TryNext(int count, out long highest)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        while (true)
        {
            long current = Cursor.Value;
            long next = current + count;
            long wrapPoint = next - BufferSize;
            long cached = _gatingCache.Value;
            if (wrapPoint > cached || cached > current)
            {
                long gating = Sequence.Minimum(GatingSequences, current);
                if (wrapPoint > gating)
                {
                    highest = current;
                    return false;
                }

                _gatingCache.SetValue(gating); // a hint only: any producer may refresh it
            }
            else if (Cursor.CompareAndSet(current, next))
            {
                highest = next;
                return true;
            }
        }
    }

    /// <inheritdoc/>
    public override void Publish(long low, long high)
    {
        for (long sequence = low; sequence <= high; sequence++)
        {
            // release: the entry's stores are visible before its round mark
            Volatile.Write(ref _availableRound[(int)sequence & _mask], (int)(sequence >> _shift));
        }

        Signal.Signal();
    }

    /// <inheritdoc/>
    public override long GetHighestPublishedSequence(long low, long available)
    {
        for (long sequence = low; sequence <= available; sequence++)
        {
            // acquire: pairs with the release in Publish
            if (Volatile.Read(ref _availableRound[(int)sequence & _mask]) != (int)(sequence >> _shift))
            {
                return sequence - 1;
            }
        }

        return available;
    }

    /// <inheritdoc/>
    protected override bool HasRoomFor(int count)
    {
        long current = Cursor.Value;
        return current + count - BufferSize <= Sequence.Minimum(GatingSequences, current);
    }
}
