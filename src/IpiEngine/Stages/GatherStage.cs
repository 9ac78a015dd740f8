using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using IpiEngine.Rings;

namespace IpiEngine.Stages;

/// <summary>
/// The gather stage: visits only the rings whose doorbell rang, hands each readable run to a consumer, then returns
/// the slots to the producer with one release store per run. A ring is drained at most <see cref="RingBudget"/>
/// records per pass (fairness between vCPUs); a ring keeps its doorbell bit while it holds records.
/// </summary>
/// <remarks>
/// Clearing a bit costs a process-wide barrier (<see cref="DoorbellBitmap"/>), so bits are cleared lazily: a ring's bit
/// is cleared when the ring was found empty on <see cref="ClearAfterEmptyVisits"/> visits in a row (one barrier for all
/// the bits a pass clears; in the engine at most one such clear per <see cref="DefaultMinPassClearInterval"/>), and every idle bit is cleared by <see cref="ReleaseIdleBells"/>, which the gathering thread
/// calls right before it parks (a producer whose bit stays set never signals, so a parked thread must own no idle bit).
/// Until then a quiet ring costs a visit a read of its tail, a line its producer does not write while it is quiet.
/// </remarks>
internal sealed class GatherStage
{
    /// <summary>Records taken from one ring per pass.</summary>
    public const int RingBudget = 1024;

    /// <summary>The default number of empty visits in a row after which a pass clears a ring's bit.</summary>
    public const int DefaultClearAfterEmptyVisits = 64;

    /// <summary>
    /// The engine's least time between two clears made by passes. A clear's process-wide barrier cost 1.2 µs on the
    /// 2-core VM while the other core ran no thread of the process, but 47 µs (p50; p99 84 µs) while one did, which is
    /// when passes clear under paced traffic; at most one per 10 ms keeps that under 0.5% of the gathering thread.
    /// </summary>
    public static readonly TimeSpan DefaultMinPassClearInterval = TimeSpan.FromMilliseconds(10);

    private readonly SpscRing<ExitRecord>[] _rings;
    private readonly DoorbellBitmap _doorbell;
    private readonly byte[] _emptyVisits; // per ring, consumer-owned: visits in a row that found it empty
    private readonly ulong[] _idle;       // per doorbell word, consumer-owned: the bits to clear at the end of a pass
    private readonly long _minClearTicks; // Stopwatch ticks between two clears made by passes
    private long _lastPassClear;          // consumer-owned: when a pass last cleared

    /// <param name="rings">The rings, one per source.</param>
    /// <param name="doorbell">Their doorbell bits.</param>
    /// <param name="clearAfterEmptyVisits">Empty visits in a row after which a pass may clear a ring's bit.</param>
    /// <param name="minPassClearInterval">
    /// The least time between two clears made by passes (not by <see cref="ReleaseIdleBells"/>); zero: no limit. The
    /// engine uses <see cref="DefaultMinPassClearInterval"/>.
    /// </param>
    public GatherStage(SpscRing<ExitRecord>[] rings, DoorbellBitmap doorbell, int clearAfterEmptyVisits = DefaultClearAfterEmptyVisits, TimeSpan minPassClearInterval = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clearAfterEmptyVisits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clearAfterEmptyVisits, byte.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(minPassClearInterval, TimeSpan.Zero);
        _rings = rings;
        _doorbell = doorbell;
        ClearAfterEmptyVisits = clearAfterEmptyVisits;
        _minClearTicks = (long)Math.Min(minPassClearInterval.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 4);
        // The first clear is due at once: "never cleared" reads as one interval ago, not as the clock's zero (the
        // machine's boot on Linux, so a machine up for less than the interval would hold its first clear back).
        _lastPassClear = Stopwatch.GetTimestamp() - _minClearTicks;
        _emptyVisits = new byte[rings.Length];
        _idle = new ulong[doorbell.WordCount];
    }

    /// <summary>
    /// A pass that takes fewer records than this is thin: the gathering thread spins a little before the next
    /// (<c>EnginePipeline.BackOffAfterThinPass</c>).
    /// </summary>
    public const int ThinPassRecords = 64;

    /// <summary>Records the last <see cref="Pass"/> took, over all rings (consumer-owned).</summary>
    public int LastPassRecords { get; private set; }

    /// <summary>How many empty visits in a row make a pass clear a ring's bit.</summary>
    public int ClearAfterEmptyVisits { get; }

    /// <summary>
    /// Whether a rung ring holds records (a snapshot: the idle wait's condition). A ring whose producer left the bit
    /// set counts only once its records are readable; one whose bit is clear is found through its producer's ring.
    /// </summary>
    public bool HasWork
    {
        get
        {
            for (int w = 0; w < _doorbell.WordCount; w++)
            {
                ulong bits = _doorbell.Peek(w);
                while (bits != 0)
                {
                    int index = (w << 6) + BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    if (!_rings[index].IsEmpty)
                    {
                        return true;
                    }
                }
            }

            return false;
        }
    }

    /// <summary>Whether every ring is empty (a snapshot).</summary>
    public bool AllEmpty
    {
        get
        {
            foreach (SpscRing<ExitRecord> ring in _rings)
            {
                if (!ring.IsEmpty)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// One pass over the rung rings; returns whether any record was consumed (<see cref="LastPassRecords"/> says how
    /// many). A ring's bit stays set while it delivers records and is cleared only after
    /// <see cref="ClearAfterEmptyVisits"/> empty visits in a row (see the remarks), so steady traffic never makes
    /// producers write the doorbell.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    public bool Pass<TConsumer>(ref TConsumer consumer) where TConsumer : struct, ISpanConsumer
    {
        bool clear = false;
        int taken = 0;
        for (int w = 0; w < _doorbell.WordCount; w++)
        {
            ulong bits = _doorbell.Peek(w);
            while (bits != 0)
            {
                int bit = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                int index = (w << 6) + bit;
                int n = Drain(_rings[index], ref consumer, RingBudget); // a ring left with records keeps its bit: the next pass visits it again
                if (n != 0)
                {
                    taken += n;
                    _emptyVisits[index] = 0;
                }
                else if (_emptyVisits[index] >= ClearAfterEmptyVisits || ++_emptyVisits[index] >= ClearAfterEmptyVisits) // saturates while a clear waits
                {
                    _idle[w] |= 1UL << bit;
                    clear = true;
                }
            }
        }

        if (clear && (_minClearTicks == 0 || ClearIsDue()))
        {
            ClearIdle(); // the bits not cleared now stay in _idle (their rings stay visited) until a clear is due
        }

        LastPassRecords = taken;
        return taken != 0;
    }

    /// <summary>
    /// Before the gathering thread parks: clears the bit of every rung ring that is empty (one barrier), re-ringing any
    /// that a producer filled meanwhile. Afterwards a set bit means a ring with records (<see cref="HasWork"/>).
    /// </summary>
    public void ReleaseIdleBells()
    {
        bool clear = false;
        for (int w = 0; w < _doorbell.WordCount; w++)
        {
            ulong bits = _doorbell.Peek(w);
            while (bits != 0)
            {
                int bit = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                if (_rings[(w << 6) + bit].IsEmpty)
                {
                    _idle[w] |= 1UL << bit;
                    clear = true;
                }
            }
        }

        if (clear)
        {
            ClearIdle();
        }
    }

    /// <summary>
    /// Inline mode and fused mode's idle assist: hands every record of one ring to the consumer (at most
    /// <paramref name="limit"/>), leaving its doorbell bit alone (Inline: a set bit costs the producer nothing, the stop's
    /// drain clears it; the assist: the bit is clear and stays so, see <see cref="IdleAssist"/>).
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    public void DrainRing<TConsumer>(int vcpu, ref TConsumer consumer, long limit = long.MaxValue) where TConsumer : struct, ISpanConsumer
    {
        SpscRing<ExitRecord> ring = _rings[vcpu];
        while (limit > 0)
        {
            int taken = Drain(ring, ref consumer, (int)Math.Min(limit, RingBudget));
            if (taken == 0)
            {
                return;
            }

            limit -= taken;
        }
    }

    /// <summary>Hands up to <paramref name="budget"/> records of one ring to the consumer; returns how many.</summary>
    [MethodImpl(HotPath.Inlined)]
    private static int Drain<TConsumer>(SpscRing<ExitRecord> ring, ref TConsumer consumer, int budget) where TConsumer : struct, ISpanConsumer
    {
        int taken = 0;
        while (taken < budget)
        {
            ReadOnlySpan<ExitRecord> run = ring.PeekContiguous(budget - taken);
            if (run.IsEmpty)
            {
                break;
            }

            int consumed = consumer.Consume(run);
            ring.Advance(consumed); // release, after the consumer's effects (resolution or pipeline publish)
            if (consumed != run.Length)
            {
                ThrowConsumerAborted(); // the rest stays in the ring, where the fault accounting counts it
            }

            taken += run.Length;
        }

        return taken;
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowConsumerAborted()
        => throw new OperationCanceledException("The gather stage's consumer was aborted: a later stage failed.");

    /// <summary>Whether <see cref="DefaultMinPassClearInterval"/> (or the configured interval) passed since the last pass's clear; if so, starts a new one.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ClearIsDue()
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _lastPassClear < _minClearTicks)
        {
            return false;
        }

        _lastPassClear = now;
        return true;
    }

    /// <summary>Clears the bits collected in <c>_idle</c> (one barrier), then re-rings any ring a producer filled meanwhile.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ClearIdle()
    {
        _doorbell.Clear(_idle); // atomic ANDs, then the process-wide barrier: the tails below are read after it
        for (int w = 0; w < _idle.Length; w++)
        {
            ulong idle = _idle[w];
            _idle[w] = 0;
            while (idle != 0)
            {
                int index = (w << 6) + BitOperations.TrailingZeroCount(idle);
                idle &= idle - 1;
                _emptyVisits[index] = 0;
                if (!_rings[index].IsEmpty)
                {
                    _doorbell.Ring(index); // its producer may have seen the bit still set and left it to us
                }
            }
        }
    }
}
