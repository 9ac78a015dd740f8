using System.Runtime.CompilerServices;

namespace IpiEngine.Pipeline;

/// <summary>
/// What a consumer waits on: the sequencer's cursor (first stage) or the sequences of the processors it follows, and
/// an alert that tells it to stop once nothing more is available.
/// </summary>
internal sealed class SequenceBarrier
{
    private readonly Sequencer _sequencer;
    private readonly Sequence[] _dependents;
    private volatile bool _alerted;

    internal SequenceBarrier(Sequencer sequencer, Sequence[] dependents)
    {
        ArgumentNullException.ThrowIfNull(sequencer);
        ArgumentNullException.ThrowIfNull(dependents);
        _sequencer = sequencer;
        _dependents = (Sequence[])dependents.Clone();
    }

    /// <summary>Whether <see cref="Alert"/> was called.</summary>
    public bool IsAlerted => _alerted;

    /// <summary>
    /// Waits by the sequencer's strategy until <paramref name="sequence"/> is available and returns the highest
    /// available sequence (a whole batch); after an alert, returns what is available, possibly less than asked.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    public long WaitFor(long sequence)
    {
        long available = AvailableSequence();
        if (available < sequence)
        {
            var ready = new Ready(this, sequence);
            _sequencer.WaitStrategy.WaitUntil(ref ready, _sequencer.Signal);
            available = AvailableSequence();
            if (available < sequence)
            {
                return available; // alerted
            }
        }

        return _sequencer.GetHighestPublishedSequence(sequence, available);
    }

    /// <summary>Asks consumers on this barrier to stop when they have nothing left, and wakes parked ones.</summary>
    public void Alert()
    {
        _alerted = true;
        _sequencer.Signal.SignalAll();
    }

    private long AvailableSequence()
        => _dependents.Length == 0 ? _sequencer.Cursor.Value : Sequence.Minimum(_dependents, long.MaxValue);

    private readonly struct Ready(SequenceBarrier barrier, long sequence) : IWaitCondition
    {
        public bool IsSatisfied => barrier._alerted || barrier.AvailableSequence() >= sequence;

        public void BeforePark()
        {
        }
    }
}
