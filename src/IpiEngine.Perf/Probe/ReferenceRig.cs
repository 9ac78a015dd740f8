using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Perf.Probe;

/// <summary>
/// The threads and turns every reference rig shares (<see cref="ProbeRig"/>, <see cref="QueueRig"/>): one producer
/// thread per vCPU and one consumer thread, started and stopped together by a barrier, so that a rig runs either a fixed
/// count per vCPU (<see cref="RunOnce"/>, for a benchmark's invocations) or for a time (<see cref="RunFor"/>, for the
/// turns of <c>ipi run --baseline</c>). A subclass supplies the queues: what a producer posts, how the consumer takes it.
/// </summary>
/// <remarks>
/// <para>Turns. A run sets <c>_quota</c> and clears <c>_stopPosting</c>, then meets the producers at the barrier, which
/// publishes both to them; a producer posts until its quota is posted or <c>_stopPosting</c> is set, then meets the barrier
/// again, so when <see cref="RunOnce"/> or <see cref="RunFor"/> passes the second barrier every producer has stopped and
/// <see cref="Posted"/> is final. The run then waits until the consumer has taken all of it, so the next run starts
/// empty. The consumer publishes its running count with a release store after each pass that took something, after the
/// pass's deliveries; <see cref="Consumed"/> acquire-reads it, so a reader that sees a count also sees those deliveries.</para>
/// <para>Parking (only when built with <c>parkWhenIdle</c>): the consumer may block on <c>_runningGate</c> only while
/// <c>_running</c> is false, checked under the gate. A run sets it true (and pulses) before the start barrier lets any
/// producer post, and false only after every record posted was consumed, so a parked consumer never leaves a record
/// behind, and a producer never posts while it could be parked for good. <see cref="Dispose"/> sets it after
/// <c>_closing</c>, so the consumer wakes and leaves. A Monitor, not an event that creates its lock on the first wait: the
/// consumer parks while the engine's window runs, which must allocate nothing.</para>
/// <para>Compilation. The consumer's loop is compiled at once (<see cref="HotPath.Optimized"/>): a loop entered once and
/// never left would otherwise run its on-stack-replaced version for good. Each subclass decides how its
/// <see cref="Post"/> and <see cref="Pass"/> are compiled: the probe as the engine's hot path is, the queue rig as the
/// runtime compiles any program.</para>
/// </remarks>
internal abstract class ReferenceRig : IDisposable
{
    private const int IdlePassesBeforeYield = 64;

    private readonly Thread[] _producers;
    private readonly Thread _consumer;
    private readonly Barrier _gate;
    private readonly object _runningGate = new(); // a Monitor: the consumer parks on it between runs, when parkWhenIdle
    private readonly bool _parkWhenIdle;
    private bool _running = true; // written under _runningGate; the consumer's first look is without it
    private long _quota;
    private long _consumed;
    private long _sequenceErrors;
    private volatile bool _stopPosting;
    private volatile bool _closing;
    private volatile bool _consumerParked;

    /// <summary>Creates the threads; the subclass calls <see cref="Start"/> once its queues exist.</summary>
    /// <param name="vcpus">vCPUs: queues and producer threads.</param>
    /// <param name="parkWhenIdle">
    /// The consumer blocks between runs instead of yielding in a loop: for a rig that waits beside other work (the
    /// engine's slices of <c>ipi run --baseline</c>), where a consumer that never sleeps would hold a core. Off for
    /// benchmarks: back-to-back runs would pay its wake-up in each.
    /// </param>
    /// <param name="name">The threads' name prefix.</param>
    protected ReferenceRig(int vcpus, bool parkWhenIdle, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        Vcpus = vcpus;
        Cursors = new SpscCursors[vcpus];
        _parkWhenIdle = parkWhenIdle;
        _gate = new Barrier(vcpus + 1);
        _consumer = new Thread(Consume) { IsBackground = true, Name = $"{name}-consumer" };
        _producers = new Thread[vcpus];
        for (var v = 0; v < vcpus; v++)
        {
            var producer = v;
            _producers[v] = new Thread(() => Produce(producer)) { IsBackground = true, Name = $"{name}-producer-{v}" };
        }
    }

    /// <summary>Number of vCPUs (queues, producer threads).</summary>
    public int Vcpus { get; }

    /// <summary>Records the consumer has taken since the start.</summary>
    public long Consumed => Volatile.Read(ref _consumed); // acquire: pairs with the consumer's release after each pass

    /// <summary>Records that arrived out of their queue's sequence (lost, doubled or reordered): 0 when the queues are sound.</summary>
    public long SequenceErrors => Interlocked.Read(ref _sequenceErrors); // atomic read of the consumer's atomic count

    /// <summary>True while the consumer is blocked between runs (only with <c>parkWhenIdle</c>).</summary>
    internal bool ConsumerParked => _consumerParked;

    /// <summary>Whether the producers are asked to stop posting (a timed run's end); read by <see cref="Post"/>.</summary>
    protected bool StopPosting => _stopPosting;

    /// <summary>
    /// Each vCPU's queue indices, on their own padded lines: <c>Tail</c> counts the records its producer has published
    /// (producer-owned), <c>Head</c> those the consumer has taken (consumer-owned), <c>CachedHead</c> is the producer's
    /// last look at <c>Head</c>. What publishes a record is the subclass's protocol.
    /// </summary>
    protected SpscCursors[] Cursors { get; }

    /// <summary>Records every producer has published so far; final once a run's second barrier has passed.</summary>
    private long Posted
    {
        get
        {
            long posted = 0;
            foreach (ref var cursors in Cursors.AsSpan())
            {
                posted += Volatile.Read(ref cursors.Tail); // acquire: the barrier already ordered it; this documents the read
            }

            return posted;
        }
    }

    /// <summary>Each producer posts <paramref name="recordsPerVcpu"/> records; returns when the consumer has taken all of them.</summary>
    public void RunOnce(long recordsPerVcpu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recordsPerVcpu, 1);
        var target = Consumed + recordsPerVcpu * Vcpus;
        _quota = recordsPerVcpu; // published to the producers by the barrier
        _stopPosting = false;
        SetRunning(true); // before the barrier lets a producer post
        _gate.SignalAndWait(); // start
        _gate.SignalAndWait(); // every producer has published its last record
        while (Consumed < target)
        {
            Thread.Yield();
        }

        ParkConsumerIfAsked();
    }

    /// <summary>Every producer posts as fast as it can for <paramref name="duration"/>; returns the consumer's rate over that window.</summary>
    public ReferenceResult RunFor(TimeSpan duration)
    {
        _quota = long.MaxValue;
        _stopPosting = false;
        SetRunning(true); // before the barrier lets a producer post
        _gate.SignalAndWait(); // start
        var start = Stopwatch.GetTimestamp();
        var consumedAtStart = Consumed;
        Thread.Sleep(duration);
        var consumedAtEnd = Consumed;
        var end = Stopwatch.GetTimestamp();
        _stopPosting = true;
        _gate.SignalAndWait(); // every producer has stopped
        var posted = Posted;
        while (Consumed < posted)
        {
            Thread.Yield(); // drain, so a following run starts empty
        }

        ParkConsumerIfAsked();

        var seconds = Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        return new ReferenceResult(consumedAtEnd - consumedAtStart, seconds, SequenceErrors);
    }

    /// <summary>Stops the threads and frees the subclass's resources.</summary>
    public void Dispose()
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        SetRunning(true); // a parked consumer wakes, sees _closing and leaves
        _gate.SignalAndWait(); // the producers see _closing and leave
        foreach (var producer in _producers)
        {
            producer.Join();
        }

        _consumer.Join();
        _gate.Dispose();
        FreeQueues();
    }

    /// <summary>Starts the consumer and the producers: the last step of the subclass's constructor.</summary>
    protected void Start()
    {
        _consumer.Start();
        foreach (var producer in _producers)
        {
            producer.Start();
        }
    }

    /// <summary>Producer <paramref name="producer"/> posts up to <paramref name="count"/> records, stopping early at <see cref="StopPosting"/>.</summary>
    protected abstract void Post(int producer, long count);

    /// <summary>The consumer's pass over every queue: takes what is there, delivers it; returns how many records it took.</summary>
    protected abstract long Pass();

    /// <summary>After the threads have left: frees what the queues hold outside the managed heap.</summary>
    protected virtual void FreeQueues()
    {
    }

    /// <summary>The consumer found a record out of its queue's sequence.</summary>
    protected void CountSequenceError() => Interlocked.Increment(ref _sequenceErrors); // never on a sound run; atomic so readers see whole counts

    /// <summary>Every record posted is consumed: with <c>parkWhenIdle</c>, the consumer may now block until the next run.</summary>
    private void ParkConsumerIfAsked()
    {
        if (_parkWhenIdle)
        {
            SetRunning(false);
        }
    }

    private void SetRunning(bool running)
    {
        lock (_runningGate)
        {
            _running = running;
            if (running)
            {
                Monitor.PulseAll(_runningGate); // after the write, under the gate: the consumer's check and wait are too
            }
        }
    }

    private void Produce(int producer)
    {
        while (true)
        {
            _gate.SignalAndWait();
            if (_closing)
            {
                return;
            }

            Post(producer, _quota);
            _gate.SignalAndWait();
        }
    }

    /// <summary>The consumer between runs: blocks until the next run starts (or the rig closes).</summary>
    private void ParkWhileIdle()
    {
        lock (_runningGate)
        {
            while (!_running)
            {
                _consumerParked = true;
                Monitor.Wait(_runningGate); // checked under the gate: SetRunning's pulse cannot fall between the check and the wait
            }

            _consumerParked = false;
        }
    }

    [MethodImpl(HotPath.Optimized)]
    private void Consume()
    {
        long consumed = 0;
        var idlePasses = 0;
        while (true)
        {
            var taken = Pass();
            if (taken > 0)
            {
                consumed += taken;
                Volatile.Write(ref _consumed, consumed); // release: the pass's deliveries are visible before its count
                idlePasses = 0;
                continue;
            }

            if (_closing)
            {
                return;
            }

            if (++idlePasses > IdlePassesBeforeYield)
            {
                if (!Volatile.Read(ref _running)) // a hint only: the decision is taken under the gate
                {
                    ParkWhileIdle();
                    idlePasses = 0;
                    continue;
                }

                Thread.Yield();
            }
        }
    }
}

/// <summary>What one timed reference run moved: records taken inside the window, the window's length, sequence errors.</summary>
internal readonly record struct ReferenceResult(long Records, double Seconds, long SequenceErrors)
{
    /// <summary>Records taken per second of the window.</summary>
    public double RecordsPerSecond => Records / Math.Max(Seconds, 1e-9);
}
