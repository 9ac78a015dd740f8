using System.Diagnostics;
using System.Runtime.InteropServices;
using IpiEngine.Apic;
using IpiEngine.Rings;

namespace IpiEngine.Perf.Probe;

/// <summary>
/// The probe: a bare reference of the engine's shape, to say how fast that shape can go on this machine in the same run
/// as the engine. One producer thread per vCPU writes 32-byte <see cref="ExitRecord"/>s into its own SPSC ring and
/// publishes them with one release store of the tail per call (one record or a batch); one consumer thread drains every
/// ring in turn, resolves each record's destination by one table load (APIC ID to vCPU), ORs the vector's bit into a
/// private scratch copy, and at the end of each pass over the rings ORs the scratch into the shared pending words: one
/// atomic OR per word per destination per pass. No ICR decoding, no counters beyond one count per destination, no
/// doorbells, no parking: what is left is the cost of moving records between cores and setting bits.
/// </summary>
/// <remarks>
/// <para>Protocol, and why nothing is lost, doubled or reordered. Ring r has one writer of its slots and of
/// <c>Tail</c> (producer r) and one writer of <c>Head</c> (the consumer). The producer writes slots
/// [tail, tail + n) only when <c>tail + n - head &lt;= capacity</c> for a head it read, so it never overwrites a slot the
/// consumer has not finished with; it then release-stores <c>Tail = tail + n</c>, so a consumer that acquire-reads that
/// tail sees the n records written. The consumer reads slots [head, tail) for a tail it acquire-read, copies what it needs
/// out of them, then release-stores <c>Head = tail</c>, so a producer that acquire-reads that head may reuse the slots.
/// Each index is read once (head only grows, by exactly what was read), in index order, which is the producer's order.
/// Each record carries its ring's running sequence number in <see cref="ExitRecord.Tag"/>; the consumer checks it
/// against its own count, so a lost, doubled or reordered record shows as a <see cref="SequenceErrors"/> count.</para>
/// <para>Publication to readers of the results: after flushing a pass's bits the consumer release-stores its running
/// record count; <see cref="RunOnce"/> acquire-reads it, so once it sees every record consumed it also sees the pending
/// bits and the per-destination counts of those records.</para>
/// <para>Parking (only when built with <c>parkWhenIdle</c>): the consumer may block on <c>_runningGate</c> only while
/// <c>_running</c> is false, checked under the gate. <see cref="RunOnce"/> and <see cref="RunFor"/> set it true (and
/// pulse) before the start barrier lets any producer post, and false only after every record posted was consumed, so a
/// parked consumer never leaves a record behind, and a producer never posts while it could be parked for good.
/// <see cref="Dispose"/> sets it after <c>_closing</c>, so the consumer wakes and leaves. A Monitor, not an event that
/// creates its lock on the first wait: the consumer parks while the engine's window runs, which must allocate nothing.</para>
/// </remarks>
internal sealed unsafe class ProbeRig : IDisposable
{
    /// <summary>Words of pending bits per vCPU: 256 vectors.</summary>
    public const int PendingWords = 4;

    private const ushort IcrRegister = ApicRegister.X2Icr;
    private const int FirstVector = 0x20;
    private const int DestinationCycle = 64; // each producer cycles through this many precomputed destinations

    /// <summary>Pending words of one vCPU sit in their own padded block, so two destinations never share a line.</summary>
    private const int PendingStride = CacheLine.PaddedSize / sizeof(ulong);

    private readonly int _vcpus;
    private readonly int _batch;
    private readonly long _mask;
    private readonly ExitRecord*[] _rings;
    private readonly SpscCursors[] _cursors;
    private readonly int[][] _destinationCycles; // per producer: the APIC IDs it posts to, in turn
    private readonly int[] _vcpuOfApicId; // the consumer's one table load per record
    private readonly long[] _nextSequence; // per producer, padded: producer-owned
    private readonly long[] _expectedSequence; // consumer-owned
    private readonly long[] _deliveredTo; // consumer-owned
    private readonly ulong[] _pending;
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

    /// <summary>Builds the rings and starts one producer thread per vCPU and the consumer.</summary>
    /// <param name="vcpus">vCPUs: rings and producer threads.</param>
    /// <param name="batch">Records per publication (1 = one release store per record).</param>
    /// <param name="ringCapacity">Records per ring, a power of two.</param>
    /// <param name="parkWhenIdle">
    /// The consumer blocks between runs instead of yielding in a loop: for a rig that waits beside other work (the
    /// engine's slices of <c>ipi run --baseline</c>), where a consumer that never sleeps would hold a core. Off by
    /// default: a benchmark's back-to-back runs would pay its wake-up in each.
    /// </param>
    public ProbeRig(int vcpus, int batch, int ringCapacity = 4096, bool parkWhenIdle = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpus, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (ringCapacity < batch || (ringCapacity & (ringCapacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ringCapacity), ringCapacity, "A power of two, at least the batch.");
        }

        _vcpus = vcpus;
        _batch = batch;
        _parkWhenIdle = parkWhenIdle;
        _mask = ringCapacity - 1;
        _rings = new ExitRecord*[vcpus];
        _cursors = new SpscCursors[vcpus];
        _destinationCycles = new int[vcpus][];
        _vcpuOfApicId = new int[vcpus];
        _nextSequence = new long[vcpus * PendingStride];
        _expectedSequence = new long[vcpus];
        _deliveredTo = new long[vcpus];
        _pending = new ulong[vcpus * PendingStride];
        for (var v = 0; v < vcpus; v++)
        {
            // Slots start on a line boundary, so no 32-byte record straddles two lines.
            _rings[v] = (ExitRecord*)NativeMemory.AlignedAlloc((nuint)(ringCapacity * sizeof(ExitRecord)), CacheLine.Size);
            _vcpuOfApicId[v] = v; // APIC ID = vCPU index: the load stays, as the engine's resolution does one
            _destinationCycles[v] = new int[DestinationCycle];
            for (var k = 0; k < DestinationCycle; k++)
            {
                _destinationCycles[v][k] = vcpus == 1 ? 0 : (v + 1 + (k % (vcpus - 1))) % vcpus; // unicast to every other vCPU
            }
        }

        _gate = new Barrier(vcpus + 1);
        _consumer = new Thread(Consume) { IsBackground = true, Name = "probe-consumer" };
        _consumer.Start();
        _producers = new Thread[vcpus];
        for (var v = 0; v < vcpus; v++)
        {
            var producer = v;
            _producers[v] = new Thread(() => Produce(producer)) { IsBackground = true, Name = $"probe-producer-{v}" };
            _producers[v].Start();
        }
    }

    /// <summary>Number of vCPUs (rings, producer threads).</summary>
    public int Vcpus => _vcpus;

    /// <summary>Records the consumer has resolved since the start.</summary>
    public long Consumed => Volatile.Read(ref _consumed); // acquire: pairs with the consumer's release after each pass

    /// <summary>Records that arrived out of their ring's sequence (lost, doubled or reordered): 0 when the rings are sound.</summary>
    public long SequenceErrors => Interlocked.Read(ref _sequenceErrors); // atomic read of the consumer's atomic count

    /// <summary>True while the consumer is blocked between runs (only with <c>parkWhenIdle</c>).</summary>
    internal bool ConsumerParked => _consumerParked;

    /// <summary>Each producer posts <paramref name="recordsPerVcpu"/> records; returns when the consumer has resolved all of them.</summary>
    public void RunOnce(long recordsPerVcpu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recordsPerVcpu, 1);
        var target = Consumed + recordsPerVcpu * _vcpus;
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
    public ProbeResult RunFor(TimeSpan duration)
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
        long posted = 0;
        for (var v = 0; v < _vcpus; v++)
        {
            posted += Volatile.Read(ref _cursors[v].Tail); // acquire: the barrier already ordered it; this documents the read
        }

        while (Consumed < posted)
        {
            Thread.Yield(); // drain, so a following run starts empty
        }

        ParkConsumerIfAsked();

        var seconds = Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        return new ProbeResult(consumedAtEnd - consumedAtStart, seconds, SequenceErrors);
    }

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

    /// <summary>Records resolved to <paramref name="vcpu"/> so far; read it after <see cref="RunOnce"/> returned.</summary>
    public long DeliveredTo(int vcpu) => _deliveredTo[vcpu];

    /// <summary>Takes (reads and clears) one word of <paramref name="vcpu"/>'s pending vector bits.</summary>
    public ulong TakePending(int vcpu, int word)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(word);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(word, PendingWords);
        return Interlocked.Exchange(ref _pending[vcpu * PendingStride + word], 0); // full fence: take exactly what was ORed
    }

    /// <summary>The vector the <paramref name="sequence"/>th record of any ring carries.</summary>
    public static byte VectorOf(long sequence) => (byte)(FirstVector + (sequence & 127));

    /// <summary>The vCPU the <paramref name="sequence"/>th record of <paramref name="producer"/>'s ring targets.</summary>
    public int DestinationOf(int producer, long sequence) => _destinationCycles[producer][sequence % DestinationCycle];

    /// <summary>Stops the threads and frees the rings.</summary>
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
        foreach (var ring in _rings)
        {
            NativeMemory.AlignedFree(ring);
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

    private void Post(int producer, long count)
    {
        ref var cursors = ref _cursors[producer];
        var ring = _rings[producer];
        var destinations = _destinationCycles[producer];
        var capacity = _mask + 1;
        var tail = cursors.Tail;
        var sequence = _nextSequence[producer * PendingStride];
        for (long posted = 0; posted < count && !_stopPosting; posted += _batch)
        {
            var n = (int)Math.Min(_batch, count - posted);
            var spin = default(SpinWait);
            while (tail + n - cursors.CachedHead > capacity)
            {
                cursors.CachedHead = Volatile.Read(ref cursors.Head); // acquire: the consumer is done with the slots before head
                if (tail + n - cursors.CachedHead > capacity)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }

            for (var i = 0; i < n; i++, sequence++)
            {
                var destination = destinations[sequence & (DestinationCycle - 1)];
                ring[(tail + i) & _mask] = new ExitRecord((ushort)producer, IcrRegister, VectorOf(sequence), (uint)destination, (ulong)sequence, 0);
            }

            tail += n;
            Volatile.Write(ref cursors.Tail, tail); // release: the n records are written before the consumer can see the tail
        }

        _nextSequence[producer * PendingStride] = sequence;
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

    private void Consume()
    {
        var scratch = new ulong[_vcpus * PendingWords];
        var touched = new int[_vcpus];
        var isTouched = new bool[_vcpus];
        long consumed = 0;
        var idlePasses = 0;
        while (true)
        {
            var touchedCount = 0;
            var any = false;
            for (var r = 0; r < _vcpus; r++)
            {
                ref var cursors = ref _cursors[r];
                var head = cursors.Head;
                var tail = Volatile.Read(ref cursors.Tail); // acquire: pairs with the producer's release of the tail
                if (tail == head)
                {
                    continue;
                }

                var ring = _rings[r];
                var expected = _expectedSequence[r];
                for (var i = head; i < tail; i++)
                {
                    ref readonly var record = ref ring[i & _mask];
                    var destination = _vcpuOfApicId[record.DestinationId];
                    var vector = (int)record.Value;
                    scratch[destination * PendingWords + (vector >> 6)] |= 1UL << vector;
                    _deliveredTo[destination]++;
                    if (!isTouched[destination])
                    {
                        isTouched[destination] = true;
                        touched[touchedCount++] = destination;
                    }

                    if ((long)record.Tag != expected)
                    {
                        Interlocked.Increment(ref _sequenceErrors); // never on a sound run; atomic so readers see whole counts
                    }

                    expected = (long)record.Tag + 1;
                }

                _expectedSequence[r] = expected;
                consumed += tail - head;
                Volatile.Write(ref cursors.Head, tail); // release: the slots' contents were read before the producer may reuse them
                any = true;
            }

            for (var t = 0; t < touchedCount; t++)
            {
                var destination = touched[t];
                isTouched[destination] = false;
                for (var w = 0; w < PendingWords; w++)
                {
                    ref var bits = ref scratch[destination * PendingWords + w];
                    if (bits != 0)
                    {
                        Interlocked.Or(ref _pending[destination * PendingStride + w], bits); // atomic: a taker may clear the word concurrently
                        bits = 0;
                    }
                }
            }

            if (any)
            {
                Volatile.Write(ref _consumed, consumed); // release: the pass's bits and counts are visible before its count
                idlePasses = 0;
                continue;
            }

            if (_closing)
            {
                return;
            }

            if (++idlePasses > 64)
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

/// <summary>What one timed probe run moved: records resolved inside the window, the window's length, sequence errors.</summary>
internal readonly record struct ProbeResult(long Records, double Seconds, long SequenceErrors)
{
    /// <summary>Records resolved per second of the window.</summary>
    public double RecordsPerSecond => Records / Math.Max(Seconds, 1e-9);
}
