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
internal sealed class GatherStage
{
    /// <summary>Records taken from one ring per pass.</summary>
    public const int RingBudget = 1024;

    private readonly SpscRing<ExitRecord>[] _rings;
    private readonly DoorbellBitmap _doorbell;

    public GatherStage(SpscRing<ExitRecord>[] rings, DoorbellBitmap doorbell)
    {
        _rings = rings;
        _doorbell = doorbell;
    }

    /// <summary>Whether any doorbell is set (a snapshot: the idle wait's condition).</summary>
    public bool AnyRung => _doorbell.AnySet;

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
    /// One pass over the rung rings; returns whether any record was consumed. A ring's bit stays set while it delivers
    /// records and is cleared only when a visit finds it empty (see <see cref="DoorbellBitmap"/>), so steady traffic
    /// never makes producers write the doorbell.
    /// </summary>
    public bool Pass<TConsumer>(ref TConsumer consumer) where TConsumer : struct, ISpanConsumer
    {
        bool any = false;
        for (int w = 0; w < _doorbell.WordCount; w++)
        {
            ulong bits = _doorbell.Peek(w);
            ulong idle = 0;
            while (bits != 0)
            {
                int bit = BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                if (Drain(_rings[(w << 6) + bit], ref consumer))
                {
                    any = true;
                }
                else
                {
                    idle |= 1UL << bit;
                }
            }

            if (idle != 0)
            {
                ClearIdle(w, idle);
            }
        }

        return any;
    }

    /// <summary>
    /// Inline mode: hands every record of one ring to the consumer, leaving its doorbell bit alone (a set bit costs
    /// the producer nothing; the stop's drain clears it).
    /// </summary>
    public void DrainRing<TConsumer>(int vcpu, ref TConsumer consumer) where TConsumer : struct, ISpanConsumer
    {
        SpscRing<ExitRecord> ring = _rings[vcpu];
        while (Drain(ring, ref consumer))
        {
        }
    }

    /// <summary>Hands up to <see cref="RingBudget"/> records of one ring to the consumer; whether there were any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Drain<TConsumer>(SpscRing<ExitRecord> ring, ref TConsumer consumer) where TConsumer : struct, ISpanConsumer
    {
        int budget = RingBudget;
        while (budget > 0)
        {
            ReadOnlySpan<ExitRecord> run = ring.PeekContiguous(budget);
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

            budget -= run.Length;
        }

        return budget != RingBudget; // a ring left with records keeps its bit: the next pass visits it again
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowConsumerAborted()
        => throw new OperationCanceledException("The gather stage's consumer was aborted: a later stage failed.");

    /// <summary>Clears the bits of rings found empty, then re-rings any that a producer filled meanwhile.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ClearIdle(int word, ulong idle)
    {
        _doorbell.Clear(word, idle); // full fence: the tails below are read after the clear
        while (idle != 0)
        {
            int index = (word << 6) + BitOperations.TrailingZeroCount(idle);
            idle &= idle - 1;
            if (!_rings[index].IsEmpty)
            {
                _doorbell.Ring(index); // its producer may have seen the bit still set and left it to us
            }
        }
    }
}
