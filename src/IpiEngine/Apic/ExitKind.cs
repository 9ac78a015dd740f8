namespace IpiEngine.Apic;

/// <summary>What <see cref="IcrResolver.Process"/> did with one exit record.</summary>
internal enum ExitKind : byte
{
    /// <summary>An ICR high (0x310) write: the destination was latched for the sender's next ICR low write.</summary>
    Latched,
    /// <summary>A routing-relevant register write: the topology changed and a new map was published.</summary>
    TopologyWrite,
    /// <summary>A firing write produced an IPI; the destination set holds its targets (possibly none).</summary>
    Fired,
    /// <summary>The record was refused; see <see cref="ExitOutcome.Reason"/>.</summary>
    Rejected,
}
