using System.Diagnostics;
using IpiEngine.Rings;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>The closed-loop workloads of <c>ipi run</c>: each vCPU sends, then waits for the answer, as a guest does.</summary>
internal enum ClosedLoopKind
{
    /// <summary><c>smp_call_function_single(..., wait=1)</c>: CALL_FUNCTION_SINGLE to one other vCPU, wait for its ack.</summary>
    CallSingle,

    /// <summary>A TLB shootdown: CALL_FUNCTION to a set of vCPUs, wait until every one acked.</summary>
    TlbShootdown,

    /// <summary>Pairs of vCPUs bounce one IPI: the even vCPU sends, the odd one answers with an IPI back.</summary>
    PingPong,
}

/// <summary>
/// One vCPU thread per vCPU, each behaving like a guest: it sends its IPI(s), then spins until the answer came while
/// taking and serving its own pending interrupts (as a guest spinning in <c>csd_lock_wait</c> with interrupts on does),
/// so two vCPUs calling each other never deadlock. One round trip = post, then the sender sees the last ack.
/// </summary>
/// <remarks>
/// <para><b>How the ack travels.</b> call-single and tlb-shootdown do what Linux's <c>smp_call_function_*</c> do: the
/// request sits in shared memory and the IPI only says "look"; the ack is a shared flag, not an IPI. Sender s first sets
/// <c>outstanding[s]</c> to its number of targets, then sets bit s in each target's request mask (an atomic OR; the
/// csd's <c>llist_add</c> to the target's <c>call_single_queue</c>), then posts the IPI. A target that takes the vector
/// from <see cref="Engine.TakePending"/> atomically exchanges its request mask with zero and, for each sender bit it
/// found, decrements that sender's <c>outstanding</c> (the csd unlock). The sender's round trip ends when it reads 0.
/// ping-pong's ack is the answer IPI itself: the responder takes the vector and posts one back.</para>
/// <para><b>Why no request is lost or served twice.</b> A sender has at most one request out, so its bit in a mask
/// stands for exactly one request. The OR precedes the post, the post precedes the delivery, the delivery precedes the
/// take that sees it (the engine's release/acquire chain), and the exchange follows that take. Either the target's
/// exchange comes after the OR (it finds the bit) or before it; then the IPI's delivery, which follows the OR, comes after
/// that take too and sets the vector pending again, so a later take and exchange find the bit. The exchange clears what it
/// read atomically, so no bit is read twice. A decrement that goes below zero would be a doubled ack: it is counted as a
/// violation, and so is any ack still outstanding at the end or an answer that did not match its ping.</para>
/// </remarks>
internal sealed class ClosedLoopDriver : IDisposable
{
    /// <summary>Vector of CALL_FUNCTION_SINGLE (Linux).</summary>
    public const byte CallFunctionSingleVector = 0xFB;

    /// <summary>Vector of CALL_FUNCTION (Linux; a TLB shootdown goes through <c>smp_call_function_many</c>).</summary>
    public const byte CallFunctionVector = 0xFC;

    /// <summary>Vector ping-pong bounces (RESCHEDULE: the IPI a wake-up sends).</summary>
    public const byte PingPongVector = 0xFD;

    /// <summary>Most vCPUs a closed-loop run takes (each keeps its own latency histogram and spins on its own thread).</summary>
    public const int MaxVcpus = 256;

    /// <summary>The most targets of one shootdown: the sender's next vCPUs, as an address space's threads.</summary>
    public const int ShootdownSet = 3;

    private const int Stride = CacheLine.PaddedSize / sizeof(long); // each vCPU's words on their own lines
    private const int TargetCycle = 64; // call-single: targets drawn once per sender, used in turn

    private readonly Engine _engine;
    private readonly ClosedLoopKind _kind;
    private readonly int _vcpus;
    private readonly int _maskWords;
    private readonly ExitRecord[][][] _sends; // [sender][round % cycle] the writes of one send
    private readonly int[][][] _targets; // [sender][round % cycle] the vCPUs that send reaches
    private readonly int[] _targetsPerSend; // [sender] acks one round waits for
    private readonly long[] _outstanding; // [sender * Stride]
    private readonly ulong[] _requests; // [target * requestStride + word]: bit s = sender s waits for this target
    private readonly int _requestStride;
    private readonly long[] _ipisTaken; // [vcpu * Stride] vectors of the workload taken (not coalesced in the engine's count)
    private readonly long[] _roundTrips; // [vcpu * Stride] completed by this vCPU as sender
    private readonly long[] _acksServed; // [vcpu * Stride]
    private readonly long[] _posted; // [vcpu * Stride] firing writes posted
    private readonly long[] _quota; // [vcpu] round trips this sender makes (long.MaxValue: until stopped)
    private readonly long[] _sendingSpan; // [sender * Stride] its first post, [sender * Stride + 1] its last round's end (timestamps; read after Join)
    private readonly LatencyHistogram[] _latency;
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim _go = new();
    private readonly ManualResetEventSlim _joining = new(); // a vCPU done with its loop waits for it, alive, so the run can read its CPU time
    private long _violations;
    private int _sendersDone;
    private volatile bool _stop;
    private volatile bool _abandoned;

    /// <summary>Prepares the vCPU threads (not started) and every send's writes.</summary>
    public ClosedLoopDriver(Engine engine, VcpuAddressBook addresses, ClosedLoopKind kind, long? roundTrips, int seed)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(addresses);
        _engine = engine;
        _kind = kind;
        _vcpus = addresses.VcpuCount;
        _maskWords = (_vcpus + 63) / 64;
        _requestStride = Math.Max(Stride, _maskWords);
        _outstanding = new long[_vcpus * Stride];
        _requests = new ulong[_vcpus * _requestStride];
        _ipisTaken = new long[_vcpus * Stride];
        _roundTrips = new long[_vcpus * Stride];
        _acksServed = new long[_vcpus * Stride];
        _posted = new long[_vcpus * Stride];
        _sends = new ExitRecord[_vcpus][][];
        _targets = new int[_vcpus][][];
        _targetsPerSend = new int[_vcpus];
        _quota = new long[_vcpus];
        _sendingSpan = new long[_vcpus * Stride];
        _latency = new LatencyHistogram[_vcpus];
        _threads = new Thread[_vcpus];
        Senders = kind == ClosedLoopKind.PingPong ? _vcpus / 2 : _vcpus;
#pragma warning disable CA5394 // A reproducible workload wants a seeded PRNG, not a cryptographic one.
        var random = new Random(seed);
        var writes = new List<ExitRecord>();
        for (var v = 0; v < _vcpus; v++)
        {
            var isSender = kind != ClosedLoopKind.PingPong || v % 2 == 0;
            _quota[v] = !isSender ? 0 : roundTrips is { } total ? total / Senders + (SenderIndex(v) < total % Senders ? 1 : 0) : long.MaxValue;
            _latency[v] = new LatencyHistogram();
            var cycle = kind == ClosedLoopKind.CallSingle ? TargetCycle : 1;
            _sends[v] = new ExitRecord[cycle][];
            _targets[v] = new int[cycle][];
            for (var k = 0; k < cycle; k++)
            {
                int[] targets = kind switch
                {
                    ClosedLoopKind.CallSingle => [(v + 1 + random.Next(_vcpus - 1)) % _vcpus],
                    ClosedLoopKind.TlbShootdown => [.. Enumerable.Range(1, Math.Min(ShootdownSet, _vcpus - 1)).Select(i => (v + i) % _vcpus).Order()],
                    _ => [v ^ 1], // ping-pong: the partner
                };
                var vector = kind switch
                {
                    ClosedLoopKind.CallSingle => CallFunctionSingleVector,
                    ClosedLoopKind.TlbShootdown => CallFunctionVector,
                    _ => PingPongVector,
                };
                writes.Clear();
                addresses.AppendSend(writes, v, vector, targets, (ulong)v << 32 | (uint)k);
                _sends[v][k] = [.. writes];
                _targets[v][k] = targets;
                _targetsPerSend[v] = targets.Length;
            }

            var vcpu = v;
            _threads[v] = new Thread(() =>
            {
                Run(vcpu);
                _joining.Wait();
            })
            { IsBackground = true, Name = $"vcpu-{v}" };
        }
#pragma warning restore CA5394
    }

    /// <summary>vCPUs that send and wait (all, or the even half for ping-pong).</summary>
    public int Senders { get; }

    /// <summary>Round trips completed so far, over all senders.</summary>
    public long RoundTrips => SumOf(_roundTrips);

    /// <summary>Firing writes posted so far (IPIs, as the engine counts them).</summary>
    public long PostedIpis => SumOf(_posted);

    /// <summary>Acks the targets gave (call-single, tlb-shootdown) or answers the responders sent (ping-pong).</summary>
    public long AcksServed => SumOf(_acksServed);

    /// <summary>Workload vectors the vCPUs took from the engine (what coalescing left of the IPIs).</summary>
    public long IpisTaken => SumOf(_ipisTaken);

    /// <summary>
    /// Seconds from the first sender's first post to the last sender's last completed round trip (after <see cref="Join"/>;
    /// 0 when nothing was sent): the window the round trips happened in, without the threads' wake-up before it or the
    /// controller's poll interval after it (a counted run of a few round trips read a millisecond of polling as its time).
    /// </summary>
    public double SendingSeconds
    {
        get
        {
            var (first, last) = (long.MaxValue, long.MinValue);
            for (var v = 0; v < _vcpus; v++)
            {
                if (_sendingSpan[v * Stride] != 0)
                {
                    first = Math.Min(first, _sendingSpan[v * Stride]);
                    last = Math.Max(last, _sendingSpan[v * Stride + 1]);
                }
            }

            return first == long.MaxValue ? 0 : Stopwatch.GetElapsedTime(first, last).TotalSeconds;
        }
    }

    /// <summary>Doubled acks, acks still outstanding at the end, answers that were not due: 0 on a sound run.</summary>
    public long Violations => Interlocked.Read(ref _violations); // atomic read: vCPU threads add to it atomically

    /// <summary>Starts the vCPU threads; they wait for <see cref="Go"/>.</summary>
    public void Start()
    {
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>Lets every vCPU start sending.</summary>
    public void Go() => _go.Set();

    /// <summary>True once every sender made its quota (a counted run) or stopped.</summary>
    public bool SendersFinished => Volatile.Read(ref _sendersDone) == Senders; // acquire: pairs with each sender's increment

    /// <summary>Asks the senders to stop after their current round trip.</summary>
    public void Stop() => _stop = true;

    /// <summary>
    /// Makes every vCPU give up waiting (a lost ack would otherwise spin forever): the run then ends with the acks still
    /// owed counted as violations.
    /// </summary>
    public void Abandon()
    {
        _abandoned = true;
        _stop = true;
    }

    /// <summary>Lets every vCPU thread end (each waits for this once its loop is done) and waits for them, then checks that no ack is left over; returns the merged round-trip latency.</summary>
    public LatencySummary Join()
    {
        _joining.Set();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        var merged = new LatencyHistogram();
        if (_abandoned)
        {
            _violations++; // a round trip never ended
        }

        for (var v = 0; v < _vcpus; v++)
        {
            merged.Add(_latency[v]);
            var owed = _outstanding[v * Stride] != 0; // a sender left with an ack owed (or one acked too often)
            var unanswered = _kind == ClosedLoopKind.PingPong && v % 2 == 1 && _acksServed[v * Stride] != _roundTrips[(v ^ 1) * Stride];
            if (owed || unanswered)
            {
                _violations++;
            }
        }

        return merged.Summarize();
    }

    /// <summary>Frees the start signal (after <see cref="Join"/>; the counters stay readable) and lets any vCPU thread still waiting for the join end.</summary>
    public void Dispose()
    {
        _joining.Set(); // a run that failed before Join: no thread stays waiting on a disposed event
        _go.Dispose();
    }

    private static bool IsFiring(ExitRecord record) => record.Register is Apic.ApicRegister.IcrLow or Apic.ApicRegister.X2Icr;

    private int SenderIndex(int v) => _kind == ClosedLoopKind.PingPong ? v / 2 : v;

    private long SumOf(long[] padded)
    {
        long sum = 0;
        for (var v = 0; v < _vcpus; v++)
        {
            sum += Volatile.Read(ref padded[v * Stride]); // acquire: each owner's plain store is read whole
        }

        return sum;
    }

    private void Run(int v)
    {
        _go.Wait();
        if (_kind == ClosedLoopKind.PingPong && v % 2 == 1)
        {
            Answer(v);
            return;
        }

        var spin = default(SpinWait);
        var sends = _sends[v];
        var latency = _latency[v];
        long round = 0;
        var (firstPost, lastEnd) = (0L, 0L);
        for (; round < _quota[v] && !_stop; round++)
        {
            var start = Stopwatch.GetTimestamp();
            firstPost = firstPost == 0 ? start : firstPost;
            bool answered;
            if (_kind == ClosedLoopKind.PingPong)
            {
                PostAll(v, sends[0]);
                while (!(answered = TakeVector(v, PingPongVector)) && !_abandoned)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
            else
            {
                Volatile.Write(ref _outstanding[v * Stride], _targetsPerSend[v]); // release: set before the request bits that lead targets to it
                var send = sends[round % sends.Length];
                var (word, bit) = (v >> 6, 1UL << (v & 63));
                foreach (var target in _targets[v][round % sends.Length])
                {
                    Interlocked.Or(ref _requests[target * _requestStride + word], bit); // full fence: the request is visible before the IPI that announces it
                }

                PostAll(v, send);
                while (!(answered = Volatile.Read(ref _outstanding[v * Stride]) == 0) && !_abandoned) // acquire: pairs with the targets' decrements
                {
                    Serve(v);
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }

            if (!answered)
            {
                break; // abandoned: this round trip never ended, so it is neither timed nor counted
            }

            lastEnd = Stopwatch.GetTimestamp();
            latency.RecordTicks(start, lastEnd);
            Volatile.Write(ref _roundTrips[v * Stride], round + 1); // release: read whole by the progress counters
            spin.Reset();
        }

        (_sendingSpan[v * Stride], _sendingSpan[v * Stride + 1]) = lastEnd == 0 ? (0, 0) : (firstPost, lastEnd); // read after Join
        Interlocked.Increment(ref _sendersDone); // full fence: this sender's last round is over before it counts as done
        if (_kind != ClosedLoopKind.PingPong)
        {
            // Others may still wait for this vCPU's acks: keep serving until every sender is done.
            while (!SendersFinished && !_abandoned)
            {
                Serve(v);
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>The ping-pong responder: answers each ping with one IPI back, until its partner is done.</summary>
    private void Answer(int v)
    {
        var spin = default(SpinWait);
        var partner = v ^ 1;
        var answer = _sends[v][0];
        while (true)
        {
            if (TakeVector(v, PingPongVector))
            {
                PostAll(v, answer);
                Volatile.Write(ref _acksServed[v * Stride], _acksServed[v * Stride] + 1); // release: read whole by the counters
                spin.Reset();
                continue;
            }

            // Acquire: the partner's count of finished round trips, released after it saw each answer.
            if ((Volatile.Read(ref _roundTrips[partner * Stride]) == _acksServed[v * Stride] && SendersFinished) || _abandoned)
            {
                return; // every ping answered and no sender will ping again
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Takes pending interrupts; true when <paramref name="vector"/> was among them.</summary>
    private bool TakeVector(int v, byte vector)
    {
        var pending = _engine.TakePending(v);
        if (!pending.IsPending(vector))
        {
            return false;
        }

        _ipisTaken[v * Stride]++;
        return true;
    }

    /// <summary>The call-function handler: on the vector, acks every request waiting in this vCPU's mask.</summary>
    private void Serve(int v)
    {
        var vector = _kind == ClosedLoopKind.CallSingle ? CallFunctionSingleVector : CallFunctionVector;
        if (!TakeVector(v, vector))
        {
            return;
        }

        for (var w = 0; w < _maskWords; w++)
        {
            var senders = Interlocked.Exchange(ref _requests[v * _requestStride + w], 0); // full fence: each bit read once
            while (senders != 0)
            {
                var sender = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(senders);
                senders &= senders - 1;
                if (Interlocked.Decrement(ref _outstanding[sender * Stride]) < 0) // full fence: the ack the sender spins on
                {
                    Interlocked.Increment(ref _violations); // atomic: any vCPU may find a doubled ack
                }

                _acksServed[v * Stride]++;
            }
        }
    }

    private void PostAll(int v, ExitRecord[] writes)
    {
        var firings = 0;
        foreach (var write in writes)
        {
            _engine.Post(v, write.Register, write.Value, write.DestinationId, write.Tag); // one trapped write, one post
            firings += IsFiring(write) ? 1 : 0;
        }

        Volatile.Write(ref _posted[v * Stride], _posted[v * Stride] + firings); // release: read whole by the counters
    }
}
