using System.Text.Json.Serialization;
using IpiEngine.Cli.Run;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The JSON summary of <c>ipi run --nodes N</c> (<c>--json FILE|-</c>): the single-node run's fields for the whole VM
/// (IPIs posted, destinations delivered, coalesced, rejected IPIs, destinations per second, latency, allocations,
/// collections, conservation) plus what crossed nodes (<see cref="Forwarded"/>, <see cref="Received"/>) or the hosts'
/// kernels served (<see cref="ServedByHost"/>), and one <see cref="NodeSummary"/> per node.
/// </summary>
internal sealed record NodesRunReport
{
    /// <summary><c>nodes</c> (a generated workload) or <c>nodes-trace</c>.</summary>
    public required string Mode { get; init; }
    /// <summary>How many node processes.</summary>
    public required int NodeCount { get; init; }
    /// <summary>Who served each node's own targets: <c>engine</c> or <c>kernel</c>.</summary>
    public required string LocalTargets { get; init; }
    /// <summary>The engines' threading.</summary>
    public required string Threading { get; init; }
    /// <summary>Fused threading: whether every node's engine was told to run the idle assist (<c>--assist</c>); null otherwise.</summary>
    public bool? Assist { get; init; }
    /// <summary>Fused threading: the nodes' <see cref="NodeSummary.AssistedPasses"/>, summed; null otherwise.</summary>
    public long? AssistedPasses { get; init; }
    /// <summary>The nodes' <see cref="NodeSummary.ThinPassWaits"/>, summed; null in inline threading.</summary>
    public long? ThinPassWaits { get; init; }
    /// <summary>vCPUs of the VM.</summary>
    public required int Vcpus { get; init; }
    /// <summary>A generated workload: IPIs each vCPU posted per turn (1: <c>Post</c>; more: one <c>PostBatch</c>); null for a trace.</summary>
    public int? Batch { get; init; }
    /// <summary>A generated workload: how long each node warmed up on a throw-away VM of its own before the window (<c>--warmup</c>); null for a trace.</summary>
    public double? WarmupSeconds { get; init; }
    /// <summary>A paced generated workload: each node's pacing step in microseconds (<c>--pace-step</c>); null when unpaced or for a trace.</summary>
    public int? PaceStepMicroseconds { get; init; }
    /// <summary>The topology (or "from the trace").</summary>
    public required string Topology { get; init; }
    /// <summary>The workload mix, or the trace's name.</summary>
    public required string Workload { get; init; }
    /// <summary>Seconds from the start signal to the last node's report.</summary>
    public required double DurationSeconds { get; init; }
    /// <summary>IPIs (firing writes) posted over all nodes.</summary>
    public required long Posted { get; init; }
    /// <summary>Destinations delivered into engines' descriptors (local and arrived from other nodes).</summary>
    public required long Delivered { get; init; }
    /// <summary>Destinations that were already pending (local and arrived).</summary>
    public required long Coalesced { get; init; }
    /// <summary>IPIs rejected, all nodes.</summary>
    public required long Rejected { get; init; }
    /// <summary>Destinations handed to the links for other nodes.</summary>
    public required long Forwarded { get; init; }
    /// <summary>Destinations that arrived from other nodes.</summary>
    public required long Received { get; init; }
    /// <summary>Local destinations the hosts' kernels served (<c>--local-targets kernel</c>).</summary>
    public required long ServedByHost { get; init; }
    /// <summary>Destinations served per second, VM-wide (delivered, coalesced, served by the hosts).</summary>
    public required double IpisPerSecond { get; init; }
    /// <summary>Destinations that crossed a link per second (<see cref="Received"/> over <see cref="DurationSeconds"/>): the table's "cross-node IPIs/s".</summary>
    public required double CrossNodeIpisPerSecond { get; init; }
    /// <summary>Each node's own destinations served per second (by its engine or its host), summed: the table's "local IPIs/s".</summary>
    public required double LocalIpisPerSecond { get; init; }
    /// <summary>
    /// Cross-node latency from post to arrival, nanoseconds, in the single-node run's shape: samples over all nodes,
    /// each percentile and the maximum the worst node's (<see cref="LatencySummary.Worst"/>).
    /// </summary>
    public required LatencySummary LatencyNs { get; init; }
    /// <summary>Bytes allocated by the node processes during the run, summed.</summary>
    public required long AllocatedBytes { get; init; }
    /// <summary>Collections in the node processes during the run, summed.</summary>
    public required GcCounts GcCollections { get; init; }
    /// <summary>Every engine's conservation held.</summary>
    public required bool ConservationHeld { get; init; }
    /// <summary>Every destination exactly once: nothing doubled, lost or misrouted (a trace: nor delivered with another mode or vector, <see cref="NodeSummary.Mismatched"/>).</summary>
    public required bool ExactlyOnce { get; init; }
    /// <summary>Trace runs: whether the merged deliveries equal the reference (null without one).</summary>
    public bool? MatchesReference { get; init; }
    /// <summary>Trace runs: the reference compared with.</summary>
    public string? ReferencePath { get; init; }
    /// <summary>Each node's counters.</summary>
    public required IReadOnlyList<NodeSummary> Nodes { get; init; }

    /// <summary>
    /// The report of a run whose nodes did <paramref name="nodes"/> (both kinds of multi-node run build it here): VM-wide
    /// counts are the nodes' sums, the rate is destinations served (each node's local ones, by its engine or its host,
    /// plus what arrived from the others) per second of <paramref name="seconds"/>.
    /// </summary>
    internal static NodesRunReport Build(string mode, string localTargets, string threading, bool? assist, int vcpus, string topology, string workload,
        double seconds, bool exactlyOnce, IReadOnlyList<NodePart> nodes)
    {
        var rates = NodeRates.Of(nodes, seconds);
        return new()
        {
            Mode = mode,
            NodeCount = nodes.Count,
            LocalTargets = localTargets,
            Threading = threading,
            Assist = assist,
            AssistedPasses = assist is null ? null : nodes.Sum(n => n.Summary.AssistedPasses ?? 0),
            ThinPassWaits = nodes.All(n => n.Summary.ThinPassWaits is null) ? null : nodes.Sum(n => n.Summary.ThinPassWaits ?? 0),
            Vcpus = vcpus,
            Topology = topology,
            Workload = workload,
            DurationSeconds = seconds,
            Posted = nodes.Sum(n => n.Summary.Posted),
            Delivered = nodes.Sum(n => n.Summary.Delivered),
            Coalesced = nodes.Sum(n => n.Summary.Coalesced),
            Rejected = nodes.Sum(n => n.Summary.Rejected),
            Forwarded = nodes.Sum(n => n.Summary.Forwarded),
            Received = nodes.Sum(n => n.Summary.Received),
            ServedByHost = nodes.Sum(n => n.Summary.ServedByHost),
            IpisPerSecond = rates.All,
            CrossNodeIpisPerSecond = rates.CrossNode,
            LocalIpisPerSecond = rates.Local,
            LatencyNs = LatencySummary.Worst(nodes.Select(n => n.Summary.LatencyNs)),
            AllocatedBytes = nodes.Sum(n => n.Summary.AllocatedBytes),
            GcCollections = new GcCounts(nodes.Sum(n => n.Gc.Gen0), nodes.Sum(n => n.Gc.Gen1), nodes.Sum(n => n.Gc.Gen2)),
            ConservationHeld = nodes.All(n => n.Summary.ConservationHeld),
            ExactlyOnce = exactlyOnce,
            Nodes = [.. nodes.Select(n => n.Summary)],
        };
    }
}

/// <summary>
/// One node's counters in <see cref="NodesRunReport"/>: <see cref="Delivered"/> and <see cref="Coalesced"/> count its
/// engine's local and arrived destinations; <see cref="LatencyNs"/> is the latency of what arrived here from the others.
/// </summary>
internal sealed record NodeSummary(int Node, long Posted, long Resolved, long Rejected, long Delivered, long Coalesced, long Forwarded, long ServedByHost,
    long Received, long Doubled, long Lost, long Misrouted, bool ConservationHeld, LatencySummary LatencyNs, long AllocatedBytes)
{
    /// <summary>A trace: deliveries to this node's vCPUs made with another mode or vector than the sequential replay's; null for a generated workload.</summary>
    public long? Mismatched { get; init; }

    /// <summary>Whether this node's engine ran with the idle assist, as the node reported from its engine's options; null outside fused threading.</summary>
    public bool? Assist { get; init; }

    /// <summary>Passes posting threads ran on this node because they found its pipeline thread parked; null outside fused threading.</summary>
    public long? AssistedPasses { get; init; }

    /// <summary>Thin passes after which this node's gathering thread waited for streaming records; null in inline threading.</summary>
    public long? ThinPassWaits { get; init; }

    /// <summary>The CPUs this node's pipeline threads were pinned to, as the node reported from its engine's options; null: placed by the OS.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>Whether the node's paced posting thread held a send batch (<c>--send-batch</c>); null when unpaced or a trace.</summary>
    public bool? SendBatch { get; init; }

    /// <summary>With a send batch: sends its flushes made on the posting thread while a link's send loop stayed parked; null without one.</summary>
    public long? FlushSends { get; init; }

    /// <summary>The runtime settings the node's process reported it ran with (tiered compilation, inline socket completions; null: not set).</summary>
    public IReadOnlyDictionary<string, string?>? RuntimeSettings { get; init; }
}

/// <summary>What <see cref="NodesRunReport.Build"/> takes of one node: its summary, its local destinations served (by its engine or its host), its collections.</summary>
internal readonly record struct NodePart(NodeSummary Summary, long LocalServed, GcCounts Gc);

/// <summary>Source-generated JSON for <see cref="NodesRunReport"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NodesRunReport))]
internal sealed partial class NodesRunReportJsonContext : JsonSerializerContext;

/// <summary>
/// A nodes run's delivery rates, computed here once for its table and its JSON: <see cref="CrossNode"/> is what
/// arrived from other nodes per second, <see cref="Local"/> each node's local destinations served (by its engine or
/// its host) per second, summed; <see cref="All"/> is their sum. All 0 when the run took no measurable time.
/// </summary>
internal readonly record struct NodeRates(double All, double CrossNode, double Local)
{
    /// <summary>The rates of <paramref name="nodes"/> over <paramref name="seconds"/>.</summary>
    public static NodeRates Of(IReadOnlyList<NodePart> nodes, double seconds)
    {
        if (seconds <= 0)
        {
            return default;
        }

        double crossNode = nodes.Sum(n => n.Summary.Received) / seconds;
        double local = nodes.Sum(n => n.LocalServed) / seconds;
        return new NodeRates(crossNode + local, crossNode, local);
    }
}
