using System.Runtime.CompilerServices;
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
/// atomic OR per word per destination per pass, skipped (as the engine's <c>OrVectors</c> skips it) when a plain read
/// finds every bit already pending. No ICR decoding, no counters beyond one count per destination, no doorbells, no
/// parking: what is left is the cost of moving records between cores and setting bits. Built with
/// <c>takeAfterPost</c>, each producer also takes its own vCPU's pending words after every publication, as the vCPU
/// threads of <c>ipi run</c> do after every post.
/// </summary>
/// <remarks>
/// <para>Like for like (thirty-ninth session). The probe used to OR every non-zero scratch word with a locked
/// instruction, while the engine reads first and skips an OR that would change nothing. Where nobody takes (the
/// Headline benchmarks) every bit stays pending after the first few passes, so the engine paid no locked OR and the probe
/// one per word per destination per pass, which flattered the engine's ratio; where the engine's vCPUs take after every
/// post (<c>ipi run</c>) and the probe's producers did not, the probe was flattered instead.</para>
/// <para>Protocol, and why nothing is lost, doubled or reordered. Ring r has one writer of its slots and of
/// <c>Tail</c> (producer r) and one writer of <c>Head</c> (the consumer). The producer writes slots
/// [tail, tail + n) only when <c>tail + n - head &lt;= capacity</c> for a head it read, so it never overwrites a slot the
/// consumer has not finished with; it then release-stores <c>Tail = tail + n</c>, so a consumer that acquire-reads that
/// tail sees the n records written. The consumer reads slots [head, tail) for a tail it acquire-read, copies what it needs
/// out of them, then release-stores <c>Head = tail</c>, so a producer that acquire-reads that head may reuse the slots.
/// Each index is read once (head only grows, by exactly what was read), in index order, which is the producer's order.
/// Each record carries its ring's running sequence number in <see cref="ExitRecord.Tag"/>; the consumer checks it
/// against its own count, so a lost, doubled or reordered record shows as a <see cref="SequenceErrors"/> count.</para>
/// <para>Publication of the results: after flushing a pass's bits the consumer's count is published (<see cref="ReferenceRig"/>),
/// so a reader that sees every record consumed also sees the pending bits and the per-destination counts of those records.
/// Turns and parking: <see cref="ReferenceRig"/>.</para>
/// <para>Compilation: <see cref="Post"/> and <see cref="Pass"/> as the engine's hot path (<see cref="HotPath.Optimized"/>:
/// fully optimized at the first call, without a profile), so the probe is the engine's shape compiled as the engine is.
/// Left to tiered compilation and its profile, the probe posting one record per call had phases of 93-114 M records/s
/// near lasting one to five turns in most <c>ipi run --baseline</c> runs, and otherwise moved 45-65 M; compiled at once,
/// phases of 154-158 M showed in 2 of 10 runs, one lasting the whole run, with the engine and the queue faster too: a
/// state of the machine, not of the code (thirty-third session, docs/performance-log.md).</para>
/// </remarks>
internal sealed unsafe class ProbeRig : ReferenceRig
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
    private readonly int[][] _destinationCycles; // per producer: the APIC IDs it posts to, in turn
    private readonly int[] _vcpuOfApicId; // the consumer's one table load per record
    private readonly long[] _nextSequence; // per producer, padded: producer-owned
    private readonly long[] _expectedSequence; // consumer-owned
    private readonly long[] _deliveredTo; // consumer-owned
    private readonly ulong[] _pending;
    private readonly ulong[] _scratch; // consumer-owned: a pass's bits before they are ORed into _pending
    private readonly int[] _touched; // consumer-owned: the destinations a pass reached
    private readonly bool[] _isTouched; // consumer-owned
    private readonly bool _takeAfterPost;
    private readonly long[] _takes; // per producer, padded: producer-owned, written at the end of each of its runs

    /// <summary>Builds the rings and starts one producer thread per vCPU and the consumer.</summary>
    /// <param name="vcpus">vCPUs: rings and producer threads.</param>
    /// <param name="batch">Records per publication (1 = one release store per record).</param>
    /// <param name="ringCapacity">Records per ring, a power of two.</param>
    /// <param name="parkWhenIdle">The consumer blocks between runs (<see cref="ReferenceRig"/>).</param>
    /// <param name="takeAfterPost">Each producer takes its own vCPU's pending words after every publication (summary).</param>
    public ProbeRig(int vcpus, int batch, int ringCapacity = 4096, bool parkWhenIdle = false, bool takeAfterPost = false)
        : base(vcpus, parkWhenIdle, "probe")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (ringCapacity < batch || (ringCapacity & (ringCapacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ringCapacity), ringCapacity, "A power of two, at least the batch.");
        }

        _vcpus = vcpus;
        _batch = batch;
        _mask = ringCapacity - 1;
        _rings = new ExitRecord*[vcpus];
        _destinationCycles = new int[vcpus][];
        _vcpuOfApicId = new int[vcpus];
        _nextSequence = new long[vcpus * PendingStride];
        _expectedSequence = new long[vcpus];
        _deliveredTo = new long[vcpus];
        _pending = new ulong[vcpus * PendingStride];
        _scratch = new ulong[vcpus * PendingWords];
        _touched = new int[vcpus];
        _isTouched = new bool[vcpus];
        _takeAfterPost = takeAfterPost;
        _takes = new long[vcpus * PendingStride];
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

        Start();
    }

    /// <summary>Records resolved to <paramref name="vcpu"/> so far; read it after <see cref="ReferenceRig.RunOnce"/> returned.</summary>
    public long DeliveredTo(int vcpu) => _deliveredTo[vcpu];

    /// <summary>How often producer <paramref name="vcpu"/> found something pending and took it (<c>takeAfterPost</c>); after a run.</summary>
    public long TakesBy(int vcpu) => Volatile.Read(ref _takes[vcpu * PendingStride]); // acquire: the run's barrier already ordered it

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

    /// <inheritdoc/>
    protected override void FreeQueues()
    {
        foreach (var ring in _rings)
        {
            NativeMemory.AlignedFree(ring);
        }
    }

    /// <inheritdoc/>
    [MethodImpl(HotPath.Optimized)]
    protected override void Post(int producer, long count)
    {
        ref var cursors = ref Cursors[producer];
        var ring = _rings[producer];
        var destinations = _destinationCycles[producer];
        var capacity = _mask + 1;
        var tail = cursors.Tail;
        var sequence = _nextSequence[producer * PendingStride];
        var takes = _takes[producer * PendingStride];
        for (long posted = 0; posted < count && !StopPosting; posted += _batch)
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
            if (_takeAfterPost)
            {
                takes += TakeOwn(producer);
            }
        }

        _nextSequence[producer * PendingStride] = sequence;
        Volatile.Write(ref _takes[producer * PendingStride], takes); // release: read after the run's barrier
    }

    /// <summary>
    /// A producer takes its own vCPU's pending words, as a vCPU thread of <c>ipi run</c> takes after each post: a plain
    /// read of each word, and an exchange of those that hold bits. Returns 1 when it took any.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TakeOwn(int producer)
    {
        var took = 0;
        for (var w = 0; w < PendingWords; w++)
        {
            ref var word = ref _pending[producer * PendingStride + w];
            if (Volatile.Read(ref word) != 0) // acquire; a plain load on x86: an empty word stays shared with the consumer
            {
                Interlocked.Exchange(ref word, 0); // full fence: take exactly what the consumer ORed
                took = 1;
            }
        }

        return took;
    }

    /// <inheritdoc/>
    [MethodImpl(HotPath.Optimized)]
    protected override long Pass()
    {
        var scratch = _scratch;
        var touched = _touched;
        var isTouched = _isTouched;
        var touchedCount = 0;
        long taken = 0;
        for (var r = 0; r < _vcpus; r++)
        {
            ref var cursors = ref Cursors[r];
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
                    CountSequenceError();
                }

                expected = (long)record.Tag + 1;
            }

            _expectedSequence[r] = expected;
            taken += tail - head;
            Volatile.Write(ref cursors.Head, tail); // release: the slots' contents were read before the producer may reuse them
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
                    ref var pending = ref _pending[destination * PendingStride + w];
                    if ((Volatile.Read(ref pending) & bits) != bits) // acquire; a plain load on x86: as the engine's OrVectors, an OR that would change nothing is skipped
                    {
                        Interlocked.Or(ref pending, bits); // atomic: a taker may clear the word concurrently
                    }

                    bits = 0;
                }
            }
        }

        return taken;
    }
}
