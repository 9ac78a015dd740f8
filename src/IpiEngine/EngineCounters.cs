using IpiEngine.Apic;

namespace IpiEngine;

/// <summary>The per-kind device and hypercall counts <see cref="EngineCounters"/> carries (internal: its constructor's argument).</summary>
internal readonly record struct DeviceInputCounts(long MsisResolved, long MsisRejected, long PvIpisResolved, long PvIpisRejected,
    long IoApicResolved, long IoApicRejected, long IoApicStateOnly);

/// <summary>
/// A snapshot of an engine's counters, summed over the threads that own them. Accounting rules:
/// every posted record is latched, a topology write, a resolved IPI, or rejected with a reason; every destination of
/// a resolved IPI is delivered, coalesced (already pending), forwarded, served by the host (<see cref="LocalTargets.Kernel"/>), refused because its node was unreachable, or undelivered because the pipeline failed first. <see cref="ConservationHolds"/> checks both
/// (exact when the engine is quiescent, for example after <see cref="Engine.Stop"/>).
/// </summary>
public readonly struct EngineCounters
{
    private readonly RejectCounts _rejected;

    internal EngineCounters(long posted, long latched, long topologyWrites, long peerTopologyWrites, long ipisResolved, RejectCounts rejected,
        long destinationsResolved, long noDestination, long delivered, long coalesced, long forwarded, long servedByHost, long notifications,
        long remoteDelivered, long remoteCoalesced, long remoteRejected, long logOverflow, long notifierFaults, long peerUnreachable, long undelivered, DeviceInputCounts devices,
        long assistedPasses = 0, long thinPassWaits = 0)
    {
        AssistedPasses = assistedPasses;
        ThinPassWaits = thinPassWaits;
        MsisResolved = devices.MsisResolved;
        MsisRejected = devices.MsisRejected;
        PvIpisResolved = devices.PvIpisResolved;
        PvIpisRejected = devices.PvIpisRejected;
        IoApicResolved = devices.IoApicResolved;
        IoApicRejected = devices.IoApicRejected;
        IoApicStateOnly = devices.IoApicStateOnly;
        Posted = posted;
        Latched = latched;
        TopologyWrites = topologyWrites;
        PeerTopologyWrites = peerTopologyWrites;
        IpisResolved = ipisResolved;
        _rejected = rejected;
        DestinationsResolved = destinationsResolved;
        NoDestination = noDestination;
        Delivered = delivered;
        Coalesced = coalesced;
        Forwarded = forwarded;
        ServedByHost = servedByHost;
        Notifications = notifications;
        RemoteDelivered = remoteDelivered;
        RemoteCoalesced = remoteCoalesced;
        RemoteRejected = remoteRejected;
        LogOverflow = logOverflow;
        PeerUnreachable = peerUnreachable;
        Undelivered = undelivered;
        NotifierFaults = notifierFaults;
    }

    /// <summary>
    /// Records posted on this engine (every <c>Post</c>, every record of a <c>PostBatch</c>, every topology write). A
    /// topology write replicated by <see cref="EngineOptions.Replicator"/> is counted when it is applied here, once, also
    /// when its posting call failed (the replicator counts the failed call in <c>TopologyReplication.FailureCount</c>
    /// and, once the write is applied here, in <c>TopologyReplication.FailedButApplied</c>).
    /// </summary>
    public long Posted { get; }

    /// <summary>
    /// Records that only kept state for later: ICR high writes (the latched destination), the upper halves of
    /// <c>KVM_HC_SEND_IPI</c> calls, and IOAPIC records that delivered nothing (<see cref="IoApicStateOnly"/>).
    /// </summary>
    public long Latched { get; }

    /// <summary>
    /// Topology register writes applied on this engine, whichever node posted them: with a replicator, a node reaches k
    /// once the VM's first k writes (in their one total order) are applied here.
    /// </summary>
    public long TopologyWrites { get; }

    /// <summary>Of <see cref="TopologyWrites"/>, those posted on another node and replicated here (not in <see cref="Posted"/>).</summary>
    public long PeerTopologyWrites { get; }

    /// <summary>Firing writes that produced an IPI (including those that reached nobody).</summary>
    public long IpisResolved { get; }

    /// <summary>Of <see cref="IpisResolved"/>, the MSIs devices posted (<see cref="Engine.PostMsi"/>).</summary>
    public long MsisResolved { get; }

    /// <summary>Of <see cref="Rejected"/>, the MSIs devices posted. Quiescent: MSIs posted = resolved + rejected.</summary>
    public long MsisRejected { get; }

    /// <summary>Of <see cref="IpisResolved"/>, the <c>KVM_HC_SEND_IPI</c> hypercalls (<see cref="Engine.PostPvIpi"/>).</summary>
    public long PvIpisResolved { get; }

    /// <summary>
    /// Of <see cref="Rejected"/>, the <c>KVM_HC_SEND_IPI</c> hypercalls. Quiescent: hypercalls posted = resolved + rejected
    /// (each hypercall is two records: the latched upper half counts in <see cref="Latched"/>).
    /// </summary>
    public long PvIpisRejected { get; }

    /// <summary>
    /// Of <see cref="IpisResolved"/>, IOAPIC records that delivered a pin's interrupt (a line assertion, an unmasking
    /// entry write, an EOI that re-delivers a still-asserted level pin). Quiescent: IOAPIC records posted (pin levels,
    /// entry writes, EOIs) = <see cref="IoApicResolved"/> + <see cref="IoApicRejected"/> + <see cref="IoApicStateOnly"/>.
    /// </summary>
    public long IoApicResolved { get; }

    /// <summary>Of <see cref="Rejected"/>, IOAPIC records (<see cref="RejectReason.MaskedPin"/>, <see cref="RejectReason.UnknownPin"/>, an invalid entry).</summary>
    public long IoApicRejected { get; }

    /// <summary>
    /// Of <see cref="Latched"/>, IOAPIC records that only changed its state (a de-assertion, a level pin waiting for its
    /// EOI, an entry write or an EOI that delivers nothing).
    /// </summary>
    public long IoApicStateOnly { get; }

    /// <summary>Records rejected, all reasons.</summary>
    public long Rejected
    {
        get
        {
            long total = 0;
            foreach (long count in _rejected)
            {
                total += count;
            }

            return total;
        }
    }

    /// <summary>Destinations of resolved IPIs, summed.</summary>
    public long DestinationsResolved { get; }

    /// <summary>Resolved IPIs that reached no vCPU.</summary>
    public long NoDestination { get; }

    /// <summary>Destinations whose descriptor gained the interrupt.</summary>
    public long Delivered { get; }

    /// <summary>Destinations that already had the interrupt pending (like a set IRR bit).</summary>
    public long Coalesced { get; }

    /// <summary>Destinations on another node, handed to the forwarder.</summary>
    public long Forwarded { get; }

    /// <summary>Local destinations the host's kernel already served (<see cref="LocalTargets.Kernel"/>), not delivered by the engine.</summary>
    public long ServedByHost { get; }

    /// <summary>
    /// Destinations on another node that the forwarder did not take: the peer was declared unreachable (full queue under
    /// <c>FullQueuePolicy.Fail</c>), or the engine stopped while the peer's queue stayed full. Never silent.
    /// </summary>
    public long PeerUnreachable { get; }

    /// <summary>
    /// Destinations resolved but never delivered because the pipeline failed first: in per-stage mode those still in the
    /// delivery ring when the pipeline halted, or resolved after it halted; in every mode those of a
    /// <see cref="Delivery.RemoteForwarder"/> call that threw. 0 unless <see cref="Engine.Fault"/> is set.
    /// </summary>
    public long Undelivered { get; }

    /// <summary>Notifications raised.</summary>
    public long Notifications { get; }

    /// <summary>Deliveries from other nodes that gained the interrupt here.</summary>
    public long RemoteDelivered { get; }

    /// <summary>Deliveries from other nodes that were already pending here.</summary>
    public long RemoteCoalesced { get; }

    /// <summary>Deliveries from other nodes refused (<see cref="RejectReason.InvalidRemoteDestination"/>).</summary>
    public long RemoteRejected { get; }

    /// <summary>Deliveries the log had no room for.</summary>
    public long LogOverflow { get; }

    /// <summary>Notifier calls that threw (the interrupts stay pending in the descriptors; see <see cref="Delivery.NotifierExceptionPolicy"/>).</summary>
    public long NotifierFaults { get; }

    /// <summary>
    /// Fused mode (<see cref="EngineOptions.AssistIdlePipeline"/>): passes a posting thread ran for its own vCPU's records
    /// because it found the pipeline thread parked. Not an IPI count: a measure of how often sparse traffic met a parked
    /// pipeline (each such pass saved a wake of the pipeline thread).
    /// </summary>
    public long AssistedPasses { get; }

    /// <summary>
    /// Fused and per-stage modes: passes after which the gathering thread waited 2 µs before its next pass, because the
    /// pass took few records while records streamed in at 16 or more a microsecond (so that the next pass finds more,
    /// and reads the producers' cache lines less often). Not an IPI count: a measure of how often the engine judged its
    /// traffic a stream; a closed loop or a paced load should show few or none.
    /// </summary>
    public long ThinPassWaits { get; }

    /// <summary>Records still between posting and resolution (0 when quiescent).</summary>
    public long InFlight => Posted - Latched - (TopologyWrites - PeerTopologyWrites) - IpisResolved - Rejected;

    /// <summary>
    /// posted = latched + topology writes posted here + resolved + rejected, and destinations = delivered + coalesced +
    /// forwarded + served by the host + peer unreachable + undelivered (after a fault).
    /// </summary>
    public bool ConservationHolds => InFlight == 0 && DestinationsResolved == Delivered + Coalesced + Forwarded + ServedByHost + PeerUnreachable + Undelivered;

    /// <summary>Records rejected for <paramref name="reason"/>.</summary>
    public long RejectedBy(RejectReason reason)
        => (uint)reason < StageCounters.RejectReasonCount ? _rejected[(int)reason] : 0;

    /// <inheritdoc/>
    public override string ToString()
        => $"posted {Posted}, latched {Latched}, topology {TopologyWrites}, resolved {IpisResolved}, rejected {Rejected}, "
           + $"destinations {DestinationsResolved} = delivered {Delivered} + coalesced {Coalesced} + forwarded {Forwarded} + served by host {ServedByHost} + peer unreachable {PeerUnreachable} + undelivered {Undelivered}, "
           + $"notifications {Notifications}";
}
