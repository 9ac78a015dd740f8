namespace IpiEngine.Cli.Run;

/// <summary>
/// Everything one <c>ipi run</c> reports: the summary table shows it, <c>--json</c> writes it (camelCase names).
/// Counts cover the measured window only (warm-up and bring-up excluded) unless named otherwise.
/// </summary>
internal sealed class RunReport
{
    /// <summary><c>synthetic</c> (a generated workload) or <c>trace</c> (a recorded trace).</summary>
    public required string Mode { get; init; }

    /// <summary>Number of vCPUs.</summary>
    public required int Vcpus { get; init; }

    /// <summary>Topology name (synthetic) or the trace's name.</summary>
    public required string Topology { get; init; }

    /// <summary>Workload name or weights (synthetic), or the trace name.</summary>
    public required string Workload { get; init; }

    /// <summary>Engine threading mode.</summary>
    public required string Threading { get; init; }

    /// <summary>Engine wait strategy.</summary>
    public required string Wait { get; init; }

    /// <summary>Fused threading (generated workloads and trace replays): whether the idle assist was on (<c>--assist</c>); null otherwise.</summary>
    public bool? Assist { get; init; }

    /// <summary>The CPUs the pipeline threads were pinned to, in pipeline order (<c>--pipeline-cpus</c>); null: placed by the OS.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>
    /// Passes a posting thread ran in the measured window (trace replays: over every loop) because it found the pipeline
    /// thread parked (<see cref="EngineCounters.AssistedPasses"/>); null where the run does not report it.
    /// </summary>
    public long? AssistedPasses { get; init; }

    /// <summary>
    /// Passes in the measured window (trace replays: over every loop) after which the gathering thread waited for records
    /// to gather because they streamed in (<see cref="EngineCounters.ThinPassWaits"/>); null in inline mode, which has no
    /// gathering thread.
    /// </summary>
    public long? ThinPassWaits { get; init; }

    /// <summary>Records per post call.</summary>
    public required int Batch { get; init; }

    /// <summary>Workload seed (synthetic runs).</summary>
    public int? Seed { get; init; }

    /// <summary>Offered load in IPIs/s, or null when unlimited.</summary>
    public double? OfferedRate { get; init; }

    /// <summary>Trace replays: how many times the trace was replayed.</summary>
    public int? Loops { get; init; }

    /// <summary>Warm-up before the window, in seconds.</summary>
    public required double WarmupSeconds { get; init; }

    /// <summary>Length of the measured window, in seconds.</summary>
    public required double DurationSeconds { get; init; }

    /// <summary>True when Ctrl-C ended the run early.</summary>
    public bool Interrupted { get; init; }

    /// <summary>Exit records posted (firing writes, ICR2 latches and topology writes).</summary>
    public required long Records { get; init; }

    /// <summary>IPIs posted: firing writes.</summary>
    public required long Posted { get; init; }

    /// <summary>Destinations that got their IPI into the descriptor as a newly pending interrupt.</summary>
    public required long Delivered { get; init; }

    /// <summary>Destinations where the vector (or NMI/SMI/INIT/SIPI) was already pending: merged, as an IRR does.</summary>
    public required long Coalesced { get; init; }

    /// <summary>IPIs rejected (all reasons).</summary>
    public required long Rejected { get; init; }

    /// <summary>Rejected IPIs by reason.</summary>
    public required Dictionary<string, long> RejectedByReason { get; init; }

    /// <summary>IPIs resolved, by delivery mode.</summary>
    public required Dictionary<string, long> ByDeliveryMode { get; init; }

    /// <summary>Synthetic runs: how often a vCPU found interrupts pending between its posts and took them (a VM entry's sync).</summary>
    public long? PendingTakes { get; init; }

    /// <summary>IPIs posted per second of the window.</summary>
    public required double PostedPerSecond { get; init; }

    /// <summary>IPIs delivered into descriptors (delivered + coalesced) per second of the window: the headline figure.</summary>
    public required double IpisPerSecond { get; init; }

    /// <summary>Post-to-delivery latency in nanoseconds.</summary>
    public required LatencySummary LatencyNs { get; init; }

    /// <summary>Managed bytes allocated in the measured window by the engine and vCPU threads (every thread but the display's).</summary>
    public required long AllocatedBytes { get; init; }

    /// <summary>What the progress display itself allocated in the window (its own thread), left out of <see cref="AllocatedBytes"/>.</summary>
    public long DisplayAllocatedBytes { get; init; }

    /// <summary>Garbage collections in the measured window, by generation.</summary>
    public required GcCounts GcCollections { get; init; }

    /// <summary>Whether every posted record was accounted for (resolved, latched, topology or rejected) and every resolved destination delivered or coalesced.</summary>
    public required bool ConservationHeld { get; init; }

    /// <summary>Generated workloads with device threads: posted, resolved and rejected per input kind (ICR, PV IPI, MSI, IOAPIC).</summary>
    public InputKinds? Inputs { get; init; }

    /// <summary>
    /// Trace replays: whether the deliveries equal the sequential replay's, row for row. Generated workloads with device
    /// threads: whether the MSIs and IOAPIC records resolved and rejected as a sequential replay of the same device inputs.
    /// </summary>
    public bool? MatchesSequentialReplay { get; init; }

    /// <summary>Trace replays with a reference: whether the deliveries equal it.</summary>
    public bool? MatchesReference { get; init; }

    /// <summary>The reference compared with, if any.</summary>
    public string? ReferencePath { get; init; }

    /// <summary>Closed-loop workloads: round trips and their latency.</summary>
    public ClosedLoopSummary? ClosedLoop { get; init; }

    /// <summary>With <c>--baseline</c>: the probe's rate in the same invocation and the engine's share of it.</summary>
    public ProbeBaseline? Baseline { get; init; }
}

/// <summary>
/// The probe reference rig's run beside the engine's (JSON <c>baseline</c>): the two take turns in slices, each labelled
/// by the core-distance readings around it (<see cref="BaselineSlices"/>).
/// </summary>
/// <param name="ProbeIpisPerSecond">Records the probe resolved per second over all its slices (one destination each).</param>
/// <param name="EngineToProbe">The engine's delivered IPIs/s over the probe's, all slices whatever their state.</param>
/// <param name="ProbeRecords">Records the probe resolved in its slices.</param>
/// <param name="ProbeSeconds">The probe's slices, in all.</param>
/// <param name="ProbeSequenceErrors">Records the probe lost, doubled or reordered: 0.</param>
internal sealed record ProbeBaseline(double ProbeIpisPerSecond, double EngineToProbe, long ProbeRecords, double ProbeSeconds, long ProbeSequenceErrors)
{
    /// <summary>The length of each turn.</summary>
    public double SliceSeconds { get; init; }

    /// <summary>The engine's and the probe's turns, in the order they ran.</summary>
    public IReadOnlyList<BaselineSlice> Slices { get; init; } = [];

    /// <summary>The engine's share of the probe's rate over the slices measured near, and over those measured far.</summary>
    public IReadOnlyList<BaselineState> ByState { get; init; } = [];

    /// <summary>With <c>--baseline-queue</c>: the ConcurrentQueue rig's turns against the engine's (null without).</summary>
    public QueueBaseline? Queue { get; init; }
}

/// <summary>
/// The ConcurrentQueue rig's run beside the engine's (JSON <c>baseline.queue</c>): a ConcurrentQueue per vCPU, one record
/// per call, the engine's resolver and one atomic OR per delivery (<see cref="IpiEngine.Perf.Probe.QueueRig"/>).
/// </summary>
/// <param name="QueueIpisPerSecond">Records the rig resolved per second over all its slices (one destination each).</param>
/// <param name="EngineToQueue">The engine's delivered IPIs/s as a multiple of the rig's, all slices whatever their state.</param>
/// <param name="QueueRecords">Records the rig resolved in its slices.</param>
/// <param name="QueueSeconds">The rig's slices, in all.</param>
/// <param name="QueueSequenceErrors">Records the rig lost, doubled or reordered: 0.</param>
internal sealed record QueueBaseline(double QueueIpisPerSecond, double EngineToQueue, long QueueRecords, double QueueSeconds, long QueueSequenceErrors)
{
    /// <summary>The engine against the rig over the slices measured near, and over those measured far.</summary>
    public IReadOnlyList<QueueState> ByState { get; init; } = [];
}

/// <summary>Garbage collections by generation.</summary>
internal sealed record GcCounts(int Gen0, int Gen1, int Gen2);
