using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Rings;

namespace IpiEngine;

/// <summary>
/// The counters one writer thread owns, padded against every other writer's; readers sum the instances. The owner
/// updates with <see cref="Add"/> (a release store: readers on other threads see whole, monotonic values).
/// </summary>
internal sealed class StageCounters
{
    /// <summary>The number of rejection reasons (slots from <see cref="CounterSlot.RejectedBase"/>).</summary>
    public const int RejectReasonCount = (int)RejectReason.ReservedBitsSet + 1;

    private const int Pad = CacheLine.PaddedSize / sizeof(long);
    private const int SlotCount = (int)CounterSlot.RejectedBase + RejectReasonCount;
    private readonly long[] _slots = new long[Pad + SlotCount + Pad];

    /// <summary>Owner only: adds to a counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(CounterSlot slot, long amount)
    {
        ref long value = ref _slots[Pad + (int)slot];
        Volatile.Write(ref value, value + amount); // release: one writer, so read-modify-write needs no atomic
    }

    /// <summary>Owner only: counts one rejected record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddRejected(RejectReason reason, long amount = 1) => Add(CounterSlot.RejectedBase + (int)reason, amount);

    /// <summary>Any thread: reads a counter.</summary>
    public long Read(CounterSlot slot) => Volatile.Read(ref _slots[Pad + (int)slot]);

    /// <summary>Any thread: reads a rejection counter.</summary>
    public long ReadRejected(RejectReason reason) => Read(CounterSlot.RejectedBase + (int)reason);
}
