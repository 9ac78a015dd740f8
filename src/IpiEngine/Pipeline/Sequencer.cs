namespace IpiEngine.Pipeline;

/// <summary>
/// Hands out sequences of a <see cref="RingBuffer{T}"/> to producers and publishes them to consumers, never letting a
/// producer lap the slowest gating sequence (the consumers that must see an entry before it is reused).
/// </summary>
internal abstract class Sequencer
{
    private Sequence[] _gatingSequences = [];
    private volatile bool _aborted;

    /// <summary>Creates a sequencer for a ring of <paramref name="bufferSize"/> entries.</summary>
    protected Sequencer(int bufferSize, WaitStrategy waitStrategy, EventCount signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 2);
        ArgumentNullException.ThrowIfNull(waitStrategy);
        ArgumentNullException.ThrowIfNull(signal);
        BufferSize = bufferSize;
        WaitStrategy = waitStrategy;
        Signal = signal;
    }

    /// <summary>The ring's size.</summary>
    public int BufferSize { get; }

    /// <summary>How producers wait for space and consumers wait for entries.</summary>
    public WaitStrategy WaitStrategy { get; }

    /// <summary>Signalled after each publication (and by consumers after they advance).</summary>
    public EventCount Signal { get; }

    /// <summary>The highest sequence handed out (multi-producer) or published (single producer).</summary>
    public Sequence Cursor { get; } = new();

    /// <summary>The sequences producers must not lap (set once, before producing).</summary>
    protected Sequence[] GatingSequences => Volatile.Read(ref _gatingSequences);

    /// <summary>Sets the consumers' sequences that gate producers (before any producer starts).</summary>
    public void SetGatingSequences(params Sequence[] sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        Volatile.Write(ref _gatingSequences, (Sequence[])sequences.Clone()); // release: a producer sees the whole array
    }

    /// <summary>A barrier for consumers that follow <paramref name="dependents"/> (or the cursor when none).</summary>
    public SequenceBarrier NewBarrier(params Sequence[] dependents) => new(this, dependents);

    /// <summary>Claims the next <paramref name="count"/> sequences if there is room; <paramref name="highest"/> is the last one.</summary>
    public abstract bool TryNext(int count, out long highest);

    /// <summary>Claims the next <paramref name="count"/> sequences, waiting by the strategy for room; returns the last one.</summary>
    /// <exception cref="OperationCanceledException"><see cref="Abort"/> was called (the consumers will not free room).</exception>
    public long Next(int count)
    {
        if (!NextUnlessAborted(count, out long highest))
        {
            throw new OperationCanceledException("The sequencer was aborted: its consumers stopped.");
        }

        return highest;
    }

    /// <summary>
    /// Like <see cref="Next"/>, but returns false instead of throwing once <see cref="Abort"/> was called (the consumers
    /// will not free room): for a producer that accounts for what it can no longer publish.
    /// </summary>
    public bool NextUnlessAborted(int count, out long highest)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, BufferSize);
        while (!TryNext(count, out highest))
        {
            var room = new RoomFor(this, count);
            WaitStrategy.WaitUntil(ref room, Signal);
            if (_aborted)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Makes producers waiting in <see cref="Next"/> (now or later) give up, for when a consumer failed.</summary>
    public void Abort()
    {
        _aborted = true;
        Signal.SignalAll();
    }

    /// <summary>Makes the claimed sequences <paramref name="low"/>..<paramref name="high"/> visible to consumers.</summary>
    public abstract void Publish(long low, long high);

    /// <summary>The highest sequence from <paramref name="low"/> up to <paramref name="available"/> that consumers may read.</summary>
    public abstract long GetHighestPublishedSequence(long low, long available);

    /// <summary>Whether <paramref name="count"/> more sequences could be claimed now (a snapshot).</summary>
    protected abstract bool HasRoomFor(int count);

    /// <summary>Waits for room: the slowest gating sequence has moved far enough.</summary>
    private readonly struct RoomFor(Sequencer sequencer, int count) : IWaitCondition
    {
        public bool IsSatisfied => sequencer._aborted || sequencer.HasRoomFor(count);

        public void BeforePark()
        {
        }
    }
}
