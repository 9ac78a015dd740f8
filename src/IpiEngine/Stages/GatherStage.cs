using System.Numerics;
using IpiEngine.Rings;

namespace IpiEngine.Stages;

/// <summary>
/// The gather stage: visits only the rings whose doorbell rang, hands each readable run to a consumer, then returns
/// the slots to the producer with one release store per run. A ring is drained at most <see cref="RingBudget"/>
/// records per pass (fairness between vCPUs) and re-rung if it still holds records.
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

    /// <summary>One pass over the rung rings; returns whether any record was consumed.</summary>
    public bool Pass<TConsumer>(ref TConsumer consumer) where TConsumer : struct, ISpanConsumer
    {
        bool any = false;
        for (int w = 0; w < _doorbell.WordCount; w++)
        {
            ulong bits = _doorbell.Take(w); // exchange: a full fence before the tails are read (see DoorbellBitmap)
            while (bits != 0)
            {
                int index = (w << 6) + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                SpscRing<ExitRecord> ring = _rings[index];
                int budget = RingBudget;
                while (budget > 0)
                {
                    ReadOnlySpan<ExitRecord> run = ring.PeekContiguous(budget);
                    if (run.IsEmpty)
                    {
                        break;
                    }

                    consumer.Consume(run);
                    ring.Advance(run.Length); // release, after the consumer's effects (resolution or pipeline publish)
                    budget -= run.Length;
                    any = true;
                }

                if (budget == 0 && ring.Available() > 0)
                {
                    _doorbell.Ring(index); // still holds records: visit it again next pass
                }
            }
        }

        return any;
    }
}
