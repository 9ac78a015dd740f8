using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Pipeline;
using IpiEngine.Rings;
using IpiEngine.Stages;

namespace IpiEngine.Posting;

/// <summary>
/// The producer side of the engine, in one place: a record's way into its source vCPU's ring (post, try-post, runs of a
/// batch), the wait for room, the doorbell, and the stop/fault handshake that closes the rings.
/// </summary>
/// <remarks>
/// <para>
/// The handshake (why a post either is drained by <see cref="Engine.Stop"/> or fails, never in between). A record is
/// taken only by <see cref="SpscRing{T}.TryPublish"/>: a release store of its ring's tail, then a plain check of the
/// ring's close flag. <see cref="Close"/> sets every ring's flag, runs one process-wide barrier and then seals every
/// ring's tail; a publication whose check missed the flag is inside the seal, one whose check saw it is taken only if
/// the seal includes it, and nothing past a seal is ever read or counted (the proof is in <see cref="SpscRing{T}"/>'s
/// remarks). So a publication inside the seal is resolved by the drain that follows the close, and one outside it throws
/// <see cref="EngineStoppedException"/> (or <see cref="EngineFaultedException"/> when a fault closed the rings). The
/// state check a post makes before writing its slot is only a fast refusal: correctness rests on the seal alone, so a
/// producer that read "running" and was then descheduled across the whole stop still cannot slip a record in after
/// the drain.
/// </para>
/// <para>
/// The doorbell (why no record is left unseen). After publishing, the producer reads its doorbell word and sets its bit
/// if clear; the consumer clears bits, runs a process-wide barrier and then re-reads those rings' tails
/// (<see cref="DoorbellBitmap"/> has the argument). A producer whose bit was clear and that set it wakes a parked
/// consumer through <see cref="EventCount.Signal"/>. In fused mode with the idle assist, a producer whose bit was clear
/// first offers to do the consumer's work itself: if the pipeline thread is parked, it takes the consumer role, drains
/// its own ring and gives the role back, leaving its bit clear (<see cref="IdleAssist"/> has the protocol and the proof);
/// otherwise it rings and signals as above. The fast path (bit set) is the same in every mode.
/// </para>
/// <para>
/// Waiting for room. A producer whose ring is full waits by the wait strategy until its ring has room or is closed; the
/// consumer signals after every pass that freed slots, and <see cref="Close"/> signals after closing every ring, so a
/// waiting producer always wakes to either room or the close. Before <see cref="Start"/> nothing would make room, so
/// a full ring then refuses instead of waiting.
/// </para>
/// The hot path costs the ring's free-space check (a read of producer-owned fields), the slot stores, one release
/// store of the tail, a read of the close flag (on the producer's own line) and a read of the doorbell word: no locked
/// instruction, no fence and no lock.
/// </remarks>
internal sealed class PostingRings
{
    private readonly SpscRing<ExitRecord>[] _rings;
    private readonly DoorbellBitmap _doorbell;
    private readonly EventCount _signal;
    private readonly WaitStrategy _wait;
    private readonly bool _drop;
    private readonly string _name;
    private volatile bool _started;
    private volatile bool _disposed;
    private volatile Exception? _fault;        // set before the rings close: a refused producer reads it after it saw a close flag
    private volatile Exception? _closedFault;  // set once every ring is closed: what Fault (and IsRunning) report
    private IIdleAssistant? _assistant;        // fused mode's idle assist; set before the pipeline starts, then read only
    private readonly int _stampInterval;
    private readonly long[]? _stampCountdown;  // per source, one padded stride apart: each written only by its source's producer
    private readonly StreamingChoice[] _streaming; // per source, one padded line each: each written only by its source's producer

    /// <summary>Longs between two sources' stamp countdowns (so two producers never write one line).</summary>
    private const int StampStride = CacheLine.PaddedSize / sizeof(long);

    public PostingRings(SpscRing<ExitRecord>[] rings, DoorbellBitmap doorbell, EventCount signal, WaitStrategy wait, bool drop, string name, int stampInterval = 1)
    {
        _rings = rings;
        _doorbell = doorbell;
        _signal = signal;
        _wait = wait.ForRoom; // producers wait only for room
        _drop = drop;
        _name = name;
        _stampInterval = stampInterval;
        _stampCountdown = stampInterval > 1 ? new long[(rings.Length + 1) * StampStride] : null;
        _streaming = new StreamingChoice[rings.Length];
    }

    /// <summary>
    /// The post timestamp for the next record of <paramref name="source"/> (a valid vCPU index; called by its producer
    /// only): the clock for every record when the interval is 1; otherwise 0 until <c>interval - 1</c> records went by
    /// unstamped, then the clock for the next IPI-firing write (a latch-only ICR high write would carry a stamp nobody
    /// reads, and a fixed period could land on the latches every time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long StampFor(int source, ushort register)
    {
        if (_stampCountdown is null)
        {
            return Stopwatch.GetTimestamp();
        }

        ref long left = ref _stampCountdown[(source + 1) * StampStride]; // producer-owned: plain reads and writes
        if (left > 0)
        {
            left--;
            return 0;
        }

        if (!ApicRegister.FiresIpi(register))
        {
            return 0;
        }

        left = _stampInterval - 1;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>The failure that closed the rings, if a fault did.</summary>
    /// <remarks>Set only once every ring is closed, so a caller that sees it never has a post accepted after.</remarks>
    public Exception? Fault => _closedFault;

    /// <summary>Whether the rings were closed (by a stop or a fault).</summary>
    public bool IsClosed => _rings[0].IsClosed;

    /// <summary>
    /// Fused mode's idle assist: a producer whose doorbell bit is clear offers it the work first (before <see cref="Start"/>);
    /// a try-post says it must not wait, and the assistant refuses it where an assisted pass could.
    /// </summary>
    public void AttachAssistant(IIdleAssistant assistant) => _assistant = assistant;

    /// <summary>From now on a producer with a full ring waits (a consumer runs).</summary>
    public void Start() => _started = true;

    /// <summary>
    /// Posts one record into its source's ring (<paramref name="source"/> is a valid vCPU index). Waits for room (or
    /// drops, by policy) when <paramref name="wait"/>; otherwise returns false when the ring is full. Throws when the
    /// rings are closed. The record is built straight into its slot.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public bool Post(int source, ushort register, ulong value, uint destinationId, ulong tag, long timestamp, bool wait)
    {
        SpscRing<ExitRecord> ring = _rings[source];
        if (!ring.HasCachedRoom())
        {
            return PostWhenFull(ring, source, register, value, destinationId, tag, timestamp, wait); // the call ends the branch: nothing is live across it
        }

        WriteAndPublish(ring, source, register, value, destinationId, tag, timestamp, wait);
        return true;
    }

    /// <summary><see cref="Post"/> when the cached head shows no room: refresh it, or wait or drop by policy.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private bool PostWhenFull(SpscRing<ExitRecord> ring, int source, ushort register, ulong value, uint destinationId, ulong tag, long timestamp, bool wait)
    {
        if (ring.FreeSpace() < 1 && !MakeRoom(ring, 1, wait))
        {
            return false; // full (try-post), or dropped by policy and counted
        }

        WriteAndPublish(ring, source, register, value, destinationId, tag, timestamp, wait);
        return true;
    }

    /// <summary>Writes the record into the next slot (there is room), publishes it and rings the doorbell.</summary>
    [MethodImpl(HotPath.Inlined)]
    private void WriteAndPublish(SpscRing<ExitRecord> ring, int source, ushort register, ulong value, uint destinationId, ulong tag, long timestamp, bool wait)
    {
        ring.ProducerSlot(0) = new ExitRecord((ushort)source, register, value, destinationId, tag, timestamp);
        if (!ring.TryPublish(1)) // release store of the tail, then the close check; refused only if a close's seal excludes it
        {
            ThrowClosed();
        }

        RingDoorbell(source, waits: wait);
    }

    /// <summary>
    /// Posts a run of records of one source (no topology registers among them), in as few publications as the ring's
    /// room allows; a record without a post timestamp gets <paramref name="timestamp"/>.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    public void PostRun(int source, ReadOnlySpan<ExitRecord> run, long timestamp)
    {
        SpscRing<ExitRecord> ring = _rings[source];
        ushort sourceIndex = (ushort)source;
        int i = 0;
        while (i < run.Length)
        {
            int left = run.Length - i;
            int free = ring.FreeSpace(left);
            if (free < 1)
            {
                if (!MakeRoom(ring, left, wait: true))
                {
                    return; // the rest is dropped by policy, counted
                }

                free = ring.FreeSpace(left);
            }

            int count = Math.Min(left, free);
            bool streamed = false;
            bool stream = false;
            long plainStarted = 0;
            if (count >= ExitRecord.StreamFrom)
            {
                ref StreamingChoice choice = ref _streaming[source];
                stream = choice.StreamNext();
                plainStarted = !stream && choice.TimeNextPlain() ? Stopwatch.GetTimestamp() : 0;
            }

            for (int written = 0; written < count;)
            {
                Span<ExitRecord> slots = ring.ProducerSpan(written, count - written); // up to the storage's end: a wrap takes two
                streamed |= ExitRecord.CopyAsPosted(run.Slice(i + written, slots.Length), slots, sourceIndex, timestamp, stream);
                written += slots.Length;
            }

            if (plainStarted != 0)
            {
                _streaming[source].PlainCopyTook(Stopwatch.GetTimestamp() - plainStarted, count);
            }

            // One release store for the whole piece (after a store fence if it was streamed); refused only if a close's seal excludes it.
            if (!(streamed ? ring.TryPublishStreamed(count) : ring.TryPublish(count)))
            {
                ThrowClosed();
            }

            RingDoorbell(source, waits: true);
            i += count;
        }
    }

    /// <summary>
    /// Closes every ring (any thread; idempotent; the first fault given is kept): every publication from now on fails.
    /// Returns nothing to wait for: what was published before is in the rings, for the caller's drain. Costs one
    /// process-wide barrier, however many rings.
    /// </summary>
    public void Close(Exception? fault)
    {
        if (fault is not null)
        {
            Interlocked.CompareExchange(ref _fault, fault, null); // before the flags: a refused producer reads it after it saw one
        }

        foreach (SpscRing<ExitRecord> ring in _rings)
        {
            ring.BeginClose();
        }

        Interlocked.MemoryBarrierProcessWide(); // every producer's publish-then-check is ordered against the flags (SpscRing remarks)
        foreach (SpscRing<ExitRecord> ring in _rings)
        {
            ring.Seal();
        }

        if (_fault is { } first)
        {
            _closedFault = first; // volatile, after the closes: a reader that sees the fault finds every ring closed; never reset
        }
        _signal.SignalAll(); // producers waiting for room see the close
    }

    /// <summary>After <see cref="Engine.Dispose"/>: refusals say disposed.</summary>
    public void MarkDisposed() => _disposed = true;

    /// <summary>Records published but not consumed from the rings (after a fault: they will never be resolved).</summary>
    public long Unconsumed()
    {
        long total = 0;
        foreach (SpscRing<ExitRecord> ring in _rings)
        {
            total += ring.PublishedCount - ring.ConsumedCount;
        }

        return total;
    }

    /// <summary>Throws the exception that says why the rings refuse records: disposed, faulted or stopped.</summary>
    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    public void ThrowClosed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(Engine), $"The engine '{_name}' was disposed.");
        }

        if (_fault is { } fault)
        {
            throw new EngineFaultedException($"The engine '{_name}' failed and accepts no more records: {fault.Message}", fault);
        }

        throw new EngineStoppedException($"The engine '{_name}' is stopped: it accepts no more records.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RingDoorbell(int vcpu, bool waits)
    {
        if (!_doorbell.IsRung(vcpu)) // the fast path: a set bit means the consumer will visit
        {
            RingSlow(vcpu, waits);
        }
    }

    /// <summary>
    /// The bit was clear: assist a parked pipeline (fused mode; a try-post, which does not <paramref name="waits"/>, only
    /// where the assisted pass cannot wait), or ring the bell and wake the consumer.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private void RingSlow(int vcpu, bool waits)
    {
        if (_assistant?.TryAssist(vcpu, mayWait: waits) == true)
        {
            return; // resolved and delivered on this thread; the bit stays clear (IdleAssist)
        }

        if (_doorbell.Ring(vcpu))
        {
            _signal.Signal(); // wakes a parked pipeline (its registration's barrier orders this read; EventCount remarks)
        }
    }

    /// <summary>
    /// The ring is full: refuse if closed, drop (counted) or report full, or wait by the strategy until there is room.
    /// Returns false when the record is not to be written (dropped, or full for a try-post).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private bool MakeRoom(SpscRing<ExitRecord> ring, int recordsAtStake, bool wait)
    {
        if (ring.IsClosed)
        {
            ThrowClosed();
        }

        if (!wait)
        {
            return false;
        }

        if (_drop)
        {
            ring.CountDropped(recordsAtStake);
            return false;
        }

        if (!_started)
        {
            ThrowFullBeforeStart(ring);
        }

        var room = new Room(ring);
        _wait.WaitUntil(ref room, _signal);
        if (ring.IsClosed)
        {
            ThrowClosed();
        }

        Debug.Assert(ring.FreeSpace() >= 1, "The wait ends with room or the close.");
        return true;
    }

    /// <summary>Whether a post that finds its ring full throws now (before <see cref="Start"/>, unless full rings drop).</summary>
    public bool RefusesWhenFull => !_started && !_drop;

    /// <summary>
    /// For a producer that must post <paramref name="records"/> records into <paramref name="source"/>'s ring all or none:
    /// throws what the post that found the ring full would (before <see cref="Start"/>, unless full rings drop) if they do
    /// not all fit now. Room only grows until the producer posts, so a check that passed still holds when it does.
    /// </summary>
    public void ThrowIfNoRoomBeforeStart(int source, int records)
    {
        SpscRing<ExitRecord> ring = _rings[source];
        if (RefusesWhenFull && ring.FreeSpace(records) < records)
        {
            ThrowFullBeforeStart(ring);
        }
    }

    [DoesNotReturn]
    private void ThrowFullBeforeStart(SpscRing<ExitRecord> ring)
        => throw new InvalidOperationException(
            $"The ring is full ({ring.Capacity} records) and the engine '{_name}' is not started: start it, or post fewer records before starting.");

    /// <summary>A producer's wait: room in its ring, or the ring closed.</summary>
    private readonly struct Room(SpscRing<ExitRecord> ring) : IWaitCondition
    {
        public bool IsSatisfied => ring.FreeSpace() >= 1 || ring.IsClosed;

        public void BeforePark()
        {
        }
    }
}
