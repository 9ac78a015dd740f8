using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>The validated options of one <c>ipi run</c>.</summary>
internal sealed record RunSettings
{
    /// <summary>The default scenario's vCPU count.</summary>
    public const int DefaultVcpus = 16;

    /// <summary>The default scenario's length.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

    /// <summary>Records per <c>PostBatch</c> call by default: an ICR2+ICR pair and a little more, as a vCPU's exit handler might queue.</summary>
    public const int DefaultBatch = 8;

    /// <summary>
    /// IPIs each vCPU of a <c>--nodes</c> run posts per turn by default: 1, every record its own <c>Post</c>, as the
    /// node processes always did, so their figures stay comparable from one record to the next.
    /// </summary>
    public const int DefaultNodesBatch = 1;

    /// <summary>Number of emulated vCPUs (synthetic runs) or of the trace.</summary>
    public int Vcpus { get; init; } = DefaultVcpus;

    /// <summary>The APIC topology of a synthetic run.</summary>
    public TopologyChoice Topology { get; init; } = new(Apic.TopologyKind.X2ApicCluster, false);

    /// <summary>The IPI mix of a synthetic run.</summary>
    public WorkloadMix Mix { get; init; } = WorkloadMix.LinuxMix;

    /// <summary>Device threads posting the mix's device interrupts (0 when the mix has none).</summary>
    public int Devices { get; init; }

    /// <summary>How long the measured window lasts (when <see cref="Count"/> is null).</summary>
    public TimeSpan Duration { get; init; } = DefaultDuration;

    /// <summary>Total IPIs (firing writes) to offer instead of a duration.</summary>
    public long? Count { get; init; }

    /// <summary>Threading mode name: <c>fused</c> or <c>per-stage</c>.</summary>
    public string Threading { get; init; } = "fused";

    /// <summary>Wait strategy name, or null for the engine's default.</summary>
    public string? Wait { get; init; }

    /// <summary>Fused mode's idle assist (<see cref="EngineOptions.AssistIdlePipeline"/>; <c>--assist</c>).</summary>
    public bool Assist { get; init; } = true;

    /// <summary>The pipeline threads' CPUs (<c>--pipeline-cpus</c>, <see cref="EngineOptions.PipelineCpus"/>); null: the OS places them.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>With <see cref="Nodes"/>: each node's pipeline CPUs (<c>--pipeline-cpus</c>, <see cref="PipelineCpuList.ParsePerNode"/>); null: the OS places them.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? NodePipelineCpus { get; init; }

    /// <summary>Per-vCPU ring capacity, or null for the engine's default.</summary>
    public int? RingCapacity { get; init; }

    /// <summary>The workload seed.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Offered load in IPIs per second over all vCPUs, or null for as fast as the engine takes them.</summary>
    public double? Rate { get; init; }

    /// <summary>With <c>--nodes</c> and a rate: each node's pacing step (<c>--pace-step</c>), or null for the default.</summary>
    public TimeSpan? PaceStep { get; init; }

    /// <summary>With <c>--nodes</c> and a rate: whether each node's posting thread holds a send batch (<c>--send-batch</c>, default on).</summary>
    public bool SendBatch { get; init; } = true;

    /// <summary>Records per post call (1 = <c>Post</c>, more = <c>PostBatch</c>).</summary>
    public int Batch { get; init; } = DefaultBatch;

    /// <summary>Warm-up before the measured window (JIT tiering allocates), or null for the default.</summary>
    public TimeSpan? Warmup { get; init; }

    /// <summary>Where to write the JSON report: a path, <c>-</c> for stdout, or null.</summary>
    public string? JsonPath { get; init; }

    /// <summary>True to replay a trace rather than generate a workload.</summary>
    public bool IsTrace => ExitsPath is not null;

    /// <summary>The trace's display name.</summary>
    public string? TraceName { get; init; }

    /// <summary>The trace's <c>vcpus.csv</c>.</summary>
    public string? VcpusPath { get; init; }

    /// <summary>The trace's <c>exits.csv</c>.</summary>
    public string? ExitsPath { get; init; }

    /// <summary>Where to write the replay's deliveries.</summary>
    public string? DeliveriesPath { get; init; }

    /// <summary>A reference deliveries file to compare with.</summary>
    public string? CheckPath { get; init; }

    /// <summary>How many times to replay the trace back to back.</summary>
    public int Loop { get; init; } = 1;

    /// <summary>The default number of deliveries logged for latency.</summary>
    public const int DefaultLatencySamples = 1 << 20;

    /// <summary>Deliveries kept for latency, a uniform sample of the run's (40 bytes each); 0 turns the log off.</summary>
    public int LatencySamples { get; init; } = DefaultLatencySamples;

    /// <summary>Multi-node runs: the number of nodes (engine processes on loopback), or null for one engine here.</summary>
    public int? Nodes { get; init; }

    /// <summary>Multi-node runs: who serves each node's own targets, <c>engine</c> or <c>kernel</c>.</summary>
    public string LocalTargets { get; init; } = "engine";

    /// <summary>A closed-loop workload (call-single, tlb-shootdown, ping-pong) instead of the open-loop mix, or null.</summary>
    public ClosedLoopKind? ClosedLoop { get; init; }

    /// <summary>Also run the probe reference rig for the same window, vCPU count and batch, and report the ratio.</summary>
    public bool Baseline { get; init; }

    /// <summary>With <see cref="Baseline"/>: a ConcurrentQueue per vCPU takes a turn too (<c>--baseline-queue</c>).</summary>
    public bool BaselineQueue { get; init; }

    /// <summary>Force plain progress lines even on a terminal.</summary>
    public bool Plain { get; init; }

    /// <summary>The warm-up actually used: the option, or a fifth of the run capped at one second.</summary>
    public TimeSpan EffectiveWarmup => Warmup ?? (Count is null
        ? TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, Duration.Ticks / 5))
        : TimeSpan.FromMilliseconds(100));
}
