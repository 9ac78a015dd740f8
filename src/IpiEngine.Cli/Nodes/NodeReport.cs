namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What one node reports at the end of a run (one JSON line).
/// Engine: <see cref="Posted"/> IPIs (firing writes) = <see cref="Resolved"/> + <see cref="Rejected"/>; their destinations
/// = <see cref="LocalDelivered"/> + <see cref="LocalCoalesced"/> + <see cref="EngineForwarded"/> (<see cref="EngineConservationHolds"/>);
/// remote arrivals <see cref="RemoteDelivered"/> + <see cref="RemoteCoalesced"/> + <see cref="RemoteRejected"/> = <see cref="Received"/>.
/// Links: <see cref="Forwarded"/> = <see cref="Acknowledged"/> + in flight; resends discarded as <see cref="DuplicatesDiscarded"/>.
/// Check against the script resolved sequentially: local deliveries = <see cref="ExpectedLocal"/>, forwarded =
/// <see cref="ExpectedForwarded"/>, per (source, destination) pair received = expected (<see cref="ExpectedRemote"/> in all),
/// and local deliveries per pair too when the engine's delivery log held them all (<see cref="LocalPairsChecked"/>; else in aggregate);
/// <see cref="Doubled"/>, <see cref="Lost"/>, <see cref="Misrouted"/> are 0. <see cref="LatencyNs"/>: post-to-arrival latency of what arrived here.
/// </summary>
internal sealed record NodeReport(
    int Node,
    long Posted,
    long Resolved,
    long Rejected,
    long LocalDelivered,
    long LocalCoalesced,
    long EngineForwarded,
    bool EngineConservationHolds,
    long Forwarded,
    long Acknowledged,
    long DuplicatesDiscarded,
    long Received,
    long RemoteDelivered,
    long RemoteCoalesced,
    long RemoteRejected,
    long ExpectedLocal,
    long ExpectedForwarded,
    long ExpectedRemote,
    bool LocalPairsChecked,
    long Doubled,
    long Lost,
    long Misrouted,
    long Connections,
    double PostSeconds,
    double Seconds,
    Run.LatencySummary LatencyNs,
    bool Complete,
    long ServedByHost = 0,
    long AllocatedBytes = 0,
    int Gen0 = 0,
    int Gen1 = 0,
    int Gen2 = 0)
{
    /// <summary>Each link's health: state, time per state, stall time, records refused (see <see cref="LinkReport"/>).</summary>
    public IReadOnlyList<LinkReport>? Links { get; init; }

    /// <summary>Whether this node's engine ran with the idle assist (<c>--assist</c>, from its options); null outside fused threading.</summary>
    public bool? Assist { get; init; }

    /// <summary>Passes posting threads ran because they found this node's pipeline thread parked (<see cref="EngineCounters.AssistedPasses"/>).</summary>
    public long AssistedPasses { get; init; }

    /// <summary>
    /// Thin passes after which this node's gathering thread waited for streaming records (<see cref="EngineCounters.ThinPassWaits"/>);
    /// null in inline threading, which has no gathering thread.
    /// </summary>
    public long? ThinPassWaits { get; init; }

    /// <summary>Whether the paced posting thread held a send batch (<c>--send-batch</c>); null when unpaced (no batch).</summary>
    public bool? SendBatch { get; init; }

    /// <summary>Sends the posting thread's flushes made itself while a link's send loop stayed parked, summed over the links.</summary>
    public long FlushSends { get; init; }

    /// <summary>The CPUs this node's pipeline threads were pinned to, from its engine's options (<c>--pipeline-cpus</c>); null: placed by the OS.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>The runtime settings this node's process ran with (<see cref="NodeProcesses.RuntimeSettings"/>).</summary>
    public IReadOnlyDictionary<string, string?>? RuntimeSettings { get; init; }

    /// <summary>Topology writes applied here, the VM's (whichever node posted them).</summary>
    public long TopologyWrites { get; init; }

    /// <summary>Of <see cref="TopologyWrites"/>, those posted on other nodes.</summary>
    public long PeerTopologyWrites { get; init; }

    /// <summary>The node's topology epoch: the VM's writes it applied, in the VM's one order.</summary>
    public long TopologyEpoch { get; init; }

    /// <summary>The topology digest at <see cref="TopologyEpoch"/>, chained over every write in the order applied: equal on two nodes means the same writes in the same order.</summary>
    public ulong TopologyDigest { get; init; }
}
