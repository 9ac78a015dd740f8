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

    /// <summary>Whether the runtime's dynamic PGO was on, which changes how the engine's hot path is compiled.</summary>
    public RuntimeJit Runtime { get; init; } = RuntimeJit.Current;

    /// <summary>Generated workloads (open and closed loops) on Linux: the CPU time the run's threads used in the window, by role; null elsewhere.</summary>
    public ThreadCpu? Cpu { get; init; }

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

    /// <summary>The probe's threads' CPU over its turns (Linux; null elsewhere): beside the run's <c>cpu</c>, the engine's.</summary>
    public ReferenceCpu? Cpu { get; init; }
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

    /// <summary>The rig's threads' CPU over its turns (Linux; null elsewhere).</summary>
    public ReferenceCpu? Cpu { get; init; }
}

/// <summary>
/// A reference rig's threads' CPU time over its turns of a <c>--baseline</c> run (JSON <c>baseline.cpu</c>,
/// <c>baseline.queue.cpu</c>), read as the run's own <c>cpu</c> is (<see cref="Machine.ThreadCpuTimes"/>): its consumer
/// thread, and its producer threads (which post, and in the queue rig take their pending interrupts).
/// </summary>
/// <param name="ConsumerSeconds">CPU seconds of the consumer thread in the rig's turns.</param>
/// <param name="ProducerSeconds">CPU seconds of the producer threads in the rig's turns.</param>
/// <param name="TurnSeconds">The rig's turns, in all.</param>
/// <param name="Records">Records the rig resolved in its turns.</param>
internal sealed record ReferenceCpu(double ConsumerSeconds, double ProducerSeconds, double TurnSeconds, long Records)
{
    /// <summary>The consumer's share of one core over the turns.</summary>
    public double ConsumerCores => ConsumerSeconds / TurnSeconds;

    /// <summary>The producers' cores over the turns.</summary>
    public double ProducerCores => ProducerSeconds / TurnSeconds;

    /// <summary>The consumer's CPU nanoseconds per record; null without records.</summary>
    public double? ConsumerNsPerRecord => Records == 0 ? null : ConsumerSeconds * 1e9 / Records;

    /// <summary>The producers' CPU nanoseconds per record; null without records.</summary>
    public double? ProducerNsPerRecord => Records == 0 ? null : ProducerSeconds * 1e9 / Records;
}

/// <summary>
/// The CPU time the run's threads used in the measured window (JSON <c>cpu</c>), by role: the engine's pipeline threads,
/// the vCPU threads (posting, and taking their pending interrupts), the device threads, and every other thread of the
/// process (the runtime's, the display's). From each thread's own counters (<see cref="Machine.ThreadCpuTimes"/>, 10 ms
/// ticks), from the window's opening to the vCPUs' stop (with <c>--baseline</c>, over the engine's turns only). It says
/// what each side costs per IPI and whether a slow run was starved of CPU: in 50 runs of 8 vCPUs posting one record per
/// call on this project's two cores, the pipeline thread had 0.87-0.92 of a core and the vCPU threads 1.04-1.09 in every
/// one, near or far, while the rate went from 25 to 90 M IPIs/s: what moved was the CPU each IPI cost (docs/performance-log.md,
/// thirty-fourth session).
/// </summary>
/// <param name="PipelineSeconds">CPU seconds of the engine's pipeline threads (its thin-pass waits included).</param>
/// <param name="VcpuSeconds">CPU seconds of the vCPU threads.</param>
/// <param name="DeviceSeconds">CPU seconds of the device threads.</param>
/// <param name="OtherSeconds">CPU seconds of every other thread.</param>
/// <param name="WindowSeconds">The window the seconds were counted over.</param>
/// <param name="Ipis">IPIs posted in the window.</param>
internal sealed record ThreadCpu(double PipelineSeconds, double VcpuSeconds, double DeviceSeconds, double OtherSeconds, double WindowSeconds, long Ipis)
{
    /// <summary>The counters' resolution, in seconds (one clock tick per thread).</summary>
    public double ResolutionSeconds { get; init; }

    /// <summary>The pipeline threads' share of one core over the window.</summary>
    public double PipelineCores => PipelineSeconds / WindowSeconds;

    /// <summary>The vCPU threads' cores over the window.</summary>
    public double VcpuCores => VcpuSeconds / WindowSeconds;

    /// <summary>The device threads' cores over the window.</summary>
    public double DeviceCores => DeviceSeconds / WindowSeconds;

    /// <summary>Every other thread's cores over the window.</summary>
    public double OtherCores => OtherSeconds / WindowSeconds;

    /// <summary>The pipeline threads' CPU nanoseconds per posted IPI; null without IPIs.</summary>
    public double? PipelineNsPerIpi => Ipis == 0 ? null : PipelineSeconds * 1e9 / Ipis;

    /// <summary>The vCPU threads' CPU nanoseconds per posted IPI; null without IPIs.</summary>
    public double? VcpuNsPerIpi => Ipis == 0 ? null : VcpuSeconds * 1e9 / Ipis;

    /// <summary>The seconds by role, as read, into a report (null when the counters could not be read).</summary>
    public static ThreadCpu? From(double[]? secondsByRole, double windowSeconds, long ipis)
        => secondsByRole is null || windowSeconds <= 0 ? null
            : new ThreadCpu(
                secondsByRole[(int)Machine.ThreadRole.Pipeline],
                secondsByRole[(int)Machine.ThreadRole.Vcpu],
                secondsByRole[(int)Machine.ThreadRole.Device],
                secondsByRole[(int)Machine.ThreadRole.Other],
                windowSeconds,
                ipis) { ResolutionSeconds = Machine.ThreadCpuTimes.ResolutionSeconds };
}

/// <summary>Garbage collections by generation.</summary>
internal sealed record GcCounts(int Gen0, int Gen1, int Gen2);
