using System.Runtime.CompilerServices;

namespace IpiEngine;

/// <summary>Rejected records per <see cref="Apic.RejectReason"/>, inline in <see cref="EngineCounters"/> (no allocation).</summary>
[InlineArray(StageCounters.RejectReasonCount)]
internal struct RejectCounts
{
    private long _element0;
}
