using IpiEngine.Apic;

namespace IpiEngine;

/// <summary>Indices of the engine's counters in each writer's <see cref="StageCounters"/>.</summary>
internal enum CounterSlot
{
    /// <summary>ICR high writes: the destination was latched.</summary>
    Latched,
    /// <summary>Routing-relevant register writes applied (posted here or, replicated, on another node).</summary>
    TopologyWrites,
    /// <summary>Of the topology writes applied, those posted on another node and replicated here.</summary>
    PeerTopologyWrites,
    /// <summary>Firing writes that produced an IPI (possibly reaching nobody).</summary>
    IpisResolved,
    /// <summary>Destination vCPUs of resolved IPIs, summed.</summary>
    DestinationsResolved,
    /// <summary>Resolved IPIs that reached nobody (no match, or an INIT level de-assert).</summary>
    NoDestination,
    /// <summary>Destinations whose descriptor gained the interrupt.</summary>
    Delivered,
    /// <summary>Destinations where the interrupt was already pending (like a set IRR bit).</summary>
    Coalesced,
    /// <summary>Destinations on another node, handed to the forwarder.</summary>
    Forwarded,
    /// <summary>Local destinations the host's kernel already served (<see cref="LocalTargets.Kernel"/>): not delivered here.</summary>
    ServedByHost,
    /// <summary>Notifications raised (at most one per destination per batch).</summary>
    Notifications,
    /// <summary>Forwarded deliveries from other nodes that gained the interrupt here.</summary>
    RemoteDelivered,
    /// <summary>Forwarded deliveries from other nodes that were already pending here.</summary>
    RemoteCoalesced,
    /// <summary>Forwarded deliveries refused (their destination is not a local vCPU).</summary>
    RemoteRejected,
    /// <summary>Destinations on another node the forwarder refused: the peer was unreachable (or the engine stopped first).</summary>
    PeerUnreachable,
    /// <summary>Destinations resolved and never delivered because the pipeline failed first.</summary>
    Undelivered,
    /// <summary>Notifier calls that threw (see <see cref="Delivery.NotifierExceptionPolicy"/>).</summary>
    NotifierFaults,
    /// <summary>Of the resolved IPIs, MSIs from device sources.</summary>
    MsisResolved,
    /// <summary>Of the rejected records, MSIs from device sources.</summary>
    MsisRejected,
    /// <summary>Of the resolved IPIs, <c>KVM_HC_SEND_IPI</c> hypercalls.</summary>
    PvIpisResolved,
    /// <summary>Of the rejected records, <c>KVM_HC_SEND_IPI</c> hypercalls.</summary>
    PvIpisRejected,
    /// <summary>Of the resolved IPIs, IOAPIC pins delivered (by a line change, an entry write or an EOI).</summary>
    IoApicResolved,
    /// <summary>Of the rejected records, IOAPIC records (masked pin, unknown pin, invalid entry).</summary>
    IoApicRejected,
    /// <summary>Of the latched records, IOAPIC records that only changed its state.</summary>
    IoApicStateOnly,
    /// <summary>Fused mode: passes a posting thread ran for its own ring while the pipeline thread was parked (<see cref="Stages.IdleAssist"/>).</summary>
    AssistedPasses,
    /// <summary>Thin passes after which the gathering thread let records gather before the next (<c>EnginePipeline.BackOffAfterThinPass</c>); in the pipeline's gather counters.</summary>
    ThinPassWaits,
    /// <summary>
    /// Local deliveries a batcher did not offer to a full <see cref="Delivery.DeliveryLogMode.First"/> log (it counts
    /// them here, with no shared write, instead of appending): part of <see cref="EngineCounters.LogOverflow"/>.
    /// </summary>
    LogSkipped,
    /// <summary>First of the rejected-record counters, one per <see cref="RejectReason"/>.</summary>
    RejectedBase,
}
