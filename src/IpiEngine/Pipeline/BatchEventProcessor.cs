using System.Runtime.CompilerServices;

namespace IpiEngine.Pipeline;

/// <summary>
/// Runs a handler over every entry of a ring, whole available batches at a time: wait on the barrier, hand the batch
/// to the handler, store the processor's sequence once per batch (release), signal. Stops after an alert once nothing
/// more is available.
/// </summary>
/// <typeparam name="T">The entry type.</typeparam>
/// <typeparam name="THandler">The handler (a struct: its call inlines).</typeparam>
internal sealed class BatchEventProcessor<T, THandler> where T : unmanaged where THandler : struct, IBatchHandler<T>
{
    private readonly RingBuffer<T> _ring;
    private readonly SequenceBarrier _barrier;
    private readonly EventCount _signal;
    private THandler _handler;
    private int _running;

    /// <summary>Creates a processor; add its <see cref="Sequence"/> to the producer's gating sequences.</summary>
    public BatchEventProcessor(RingBuffer<T> ring, SequenceBarrier barrier, EventCount signal, THandler handler)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(barrier);
        ArgumentNullException.ThrowIfNull(signal);
        _ring = ring;
        _barrier = barrier;
        _signal = signal;
        _handler = handler;
    }

    /// <summary>The last sequence handled.</summary>
    public Sequence Sequence { get; } = new();

    /// <summary>The handler (by reference: it may hold state the owner reads after the run).</summary>
    public ref THandler Handler => ref _handler;

    /// <summary>Processes until halted and drained. Call on the processor's own thread, once.</summary>
    /// <exception cref="InvalidOperationException">Already running.</exception>
    [MethodImpl(HotPath.Optimized)]
    public void Run()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("The processor is already running.");
        }

        long next = Sequence.Value + 1;
        while (true)
        {
            long available = _barrier.WaitFor(next);
            if (available >= next)
            {
                _handler.OnBatch(_ring, next, available);
                Sequence.SetValue(available); // release: the batch's effects are visible before the progress
                _signal.Signal();             // producers gated on us, or followers, may be parked
                next = available + 1;
            }
            else if (_barrier.IsAlerted)
            {
                return;
            }
        }
    }

    /// <summary>Asks the processor to stop once nothing more is available (it finishes what the barrier shows first).</summary>
    public void Halt() => _barrier.Alert();
}
