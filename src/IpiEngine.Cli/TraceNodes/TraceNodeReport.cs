namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// What one node of a trace replayed over nodes did (one JSON line in <c>ipi node</c>'s output). Engine:
/// <see cref="Ipis"/> firing writes = resolved + <see cref="Rejected"/>; their destinations = <see cref="Delivered"/> +
/// <see cref="Coalesced"/> + <see cref="Forwarded"/> + <see cref="ServedByHost"/> (<see cref="ConservationHeld"/>).
/// Arrivals from other nodes: <see cref="Received"/>, of which <see cref="Misrouted"/> named a vCPU not here or a
/// source on this node. <see cref="Problems"/> says, one sentence each, every check that failed on this node.
/// </summary>
internal sealed record TraceNodeReport(
    int Node,
    long Records,
    long Ipis,
    long Rejected,
    long TopologyWrites,
    long Delivered,
    long Coalesced,
    long Forwarded,
    long ServedByHost,
    long Received,
    long RemoteDelivered,
    long RemoteCoalesced,
    long ExpectedReceived,
    long Injected,
    long Misrouted,
    bool ConservationHeld,
    double Seconds,
    Run.LatencySummary LatencyNs,
    long AllocatedBytes,
    int Gen0,
    int Gen1,
    int Gen2,
    string[] Problems)
{
    /// <summary>Whether this node's engine ran with the idle assist (<c>--assist</c>, from its options); null outside fused threading.</summary>
    public bool? Assist { get; init; }

    /// <summary>The CPUs this node's pipeline threads were pinned to, from its engine's options (<c>--pipeline-cpus</c>); null: placed by the OS.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>Passes posting threads ran because they found this node's pipeline thread parked (<see cref="EngineCounters.AssistedPasses"/>).</summary>
    public long AssistedPasses { get; init; }

    /// <summary>
    /// Thin passes after which this node's gathering thread waited for streaming records (<see cref="EngineCounters.ThinPassWaits"/>);
    /// null in inline threading, which has no gathering thread.
    /// </summary>
    public long? ThinPassWaits { get; init; }

    /// <summary>The runtime settings this node's process ran with (<see cref="Nodes.NodeProcesses.RuntimeSettings"/>).</summary>
    public IReadOnlyDictionary<string, string?>? RuntimeSettings { get; init; }
}
