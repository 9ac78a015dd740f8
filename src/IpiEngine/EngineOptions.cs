using System.Numerics;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine;

/// <summary>How an <see cref="Engine"/> is built. Validated by the engine's constructor.</summary>
public sealed unsafe class EngineOptions
{
    /// <summary>The most vCPUs an engine serves (exit records carry a 16-bit source index).</summary>
    public const int MaxVcpus = ushort.MaxValue;

    /// <summary>
    /// The number of vCPUs. 0 (the default) takes <see cref="Topology"/>'s count; with no topology it must be set.
    /// </summary>
    public int VcpuCount { get; init; }

    /// <summary>
    /// The APIC topology at start (the engine takes it over: do not change it afterwards). Default: every APIC enabled
    /// in x2APIC physical mode with APIC ID = vCPU index.
    /// </summary>
    public ApicTopology? Topology { get; init; }

    /// <summary>
    /// Device sources (each one thread that posts MSIs with <see cref="Engine.PostMsi"/>, on a ring of its own after the
    /// vCPUs': device d posts as source <c>VcpuCount + d</c>). Default 0. vCPUs plus devices are at most <see cref="MaxVcpus"/>.
    /// </summary>
    public int DeviceSources { get; init; }

    /// <summary>
    /// In a multi-node VM, the node whose engine owns the IOAPIC (GiantVM: node 0, with every device): the other nodes
    /// forward their vCPUs' EOIs there (docs/apic.md, "IOAPIC"). -1 (the default): this engine's own IOAPIC sees its own
    /// vCPUs' EOIs only. Needs a <see cref="Placement"/> that places vCPUs on that node.
    /// </summary>
    public int IoApicNode { get; init; } = -1;

    /// <summary>
    /// Records each vCPU's ring holds (a power of two, from 2 to 16777216), or 0 (the default) for automatic: 4096 while the
    /// VM's rings together fit in 8 MiB (up to 64 vCPUs), then halved as the vCPUs double, down to 64 (1024 vCPUs: 256).
    /// Rings that outgrow the caches make every record a cache miss: with 4096-record rings, 1024 vCPUs posted several
    /// times slower than 8 (<c>VcpuScalingBenchmarks</c>).
    /// </summary>
    public int RingCapacity { get; init; }

    /// <summary>The largest <see cref="RingCapacity"/> accepted: 2^24 records, 512 MiB of one vCPU's ring.</summary>
    internal const int MaxRingCapacity = 1 << 24;

    /// <summary>The largest per-vCPU ring, in records, of the automatic <see cref="RingCapacity"/>.</summary>
    internal const int MaxAutomaticRingCapacity = 4096;

    /// <summary>The bytes all rings of the automatic <see cref="RingCapacity"/> stay within, while above the floor.</summary>
    internal const long AutomaticRingBytes = 8L << 20;

    /// <summary>The per-vCPU ring capacity of the automatic <see cref="RingCapacity"/> for <paramref name="vcpus"/> vCPUs.</summary>
    internal static int AutomaticRingCapacity(int vcpus)
    {
        int capacity = MaxAutomaticRingCapacity;
        while (capacity > 64 && (long)vcpus * capacity * Unsafe.SizeOf<ExitRecord>() > AutomaticRingBytes)
        {
            capacity /= 2;
        }

        return capacity;
    }

    /// <summary>The per-vCPU ring capacity this engine uses: <see cref="RingCapacity"/>, or the automatic one.</summary>
    internal int EffectiveRingCapacity(int vcpus) => RingCapacity != 0 ? RingCapacity : AutomaticRingCapacity(vcpus);

    /// <summary>Entries of each pipeline ring in per-stage mode (a power of two, from 512 to 16777216). Default 16384.</summary>
    public int PipelineRingSize { get; init; } = 16384;

    /// <summary>Fused (default), per-stage, or inline (no engine thread: the posting thread delivers; deterministic).</summary>
    public ThreadingMode ThreadingMode { get; init; } = ThreadingMode.Fused;

    /// <summary>
    /// How idle threads wait: for the pipeline threads (no work), and for producers (ring full). Default
    /// <see cref="WaitStrategyKind.Hybrid"/>: spin briefly, yield, then park, which keeps latency low under load and
    /// leaves the cores to the producers when they outnumber them.
    /// </summary>
    public WaitStrategyKind WaitStrategy { get; init; } = WaitStrategyKind.Hybrid;

    /// <summary>
    /// The logical CPU each pipeline thread is pinned to (Linux), in pipeline order: fused mode one CPU (its thread);
    /// per-stage mode three (gather, resolve, deliver), or one for all three. Each must be a CPU the thread that builds
    /// the engine may run on. Null (the default): the OS places the threads and may move them. Placement decides
    /// per-stage speed where cores are far apart: on the 2-core VM of docs/performance.md, resolve and deliver on one
    /// CPU ran at 12-18 ns per IPI, on two far cores at 25-31 ns (the gather thread's place mattered little).
    /// </summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>
    /// <see cref="PipelineCpus"/> as one CPU per pipeline thread of <paramref name="mode"/> (one given for all is
    /// repeated), or null when not set. Call after <see cref="Validate"/>.
    /// </summary>
    internal int[]? PipelineCpusPerThread(ThreadingMode mode)
        => PipelineCpus is not { } cpus ? null
            : cpus.Count == 1 ? Enumerable.Repeat(cpus[0], PipelineThreads(mode)).ToArray()
            : [.. cpus];

    /// <summary>The threads a pipeline of <paramref name="mode"/> runs (inline: none, the posting threads do its work).</summary>
    internal static int PipelineThreads(ThreadingMode mode) => mode switch
    {
        ThreadingMode.Fused => 1,
        ThreadingMode.PerStage => 3,
        _ => 0,
    };

    /// <summary>
    /// Fused mode only (default true): a post that finds the pipeline thread parked resolves and delivers its own vCPU's
    /// records on the posting thread, instead of waking the pipeline thread (a futex wake and a context switch, which
    /// dominate latency when traffic is sparse); under load the pipeline thread stays awake and posts are unchanged. The
    /// notifier then also runs on such a posting thread (never concurrently with the pipeline's own deliveries).
    /// Counted in <see cref="EngineCounters.AssistedPasses"/>. False: the pipeline thread does all the work.
    /// </summary>
    public bool AssistIdlePipeline { get; init; } = true;

    /// <summary>
    /// Tests: how long a parked engine thread (or a producer waiting for room) sleeps at most without a signal. The
    /// default 1 s is a safety net; tests raise it so that a lost wake-up shows as a stall instead of a delay.
    /// </summary>
    internal int ParkTimeoutMilliseconds { get; init; } = 1000;

    /// <summary>Wait (default: never lose a record) or drop (counted) when a vCPU's ring is full.</summary>
    public BackPressure BackPressure { get; init; } = BackPressure.Wait;

    /// <summary>
    /// Stamp each record with <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when posted (once per
    /// <see cref="Engine.PostBatch"/> call, once per <see cref="Engine.Post"/>). Default (null): stamp exactly when
    /// something can read the stamp, a delivery log (<see cref="DeliveryLogCapacity"/>) or deliveries forwarded to other
    /// nodes (<see cref="Placement"/>, <see cref="Forwarder"/>). A clock read costs about 21 ns on the 2-core VM the
    /// figures of docs/performance.md come from, more than the rest of a <c>Post</c>. In <see cref="ThreadingMode.Inline"/>
    /// the default is never (and the log's deliver timestamps are 0 too), so that its delivery log is the same bytes
    /// run after run; true stamps both.
    /// </summary>
    public bool? StampPostTime { get; init; }

    /// <summary>
    /// While posts are stamped (<see cref="StampPostTime"/>), stamp only one IPI in about this many per source vCPU:
    /// after <c>N - 1</c> unstamped records the next IPI-firing write (ICR low, x2APIC ICR, self-IPI) is stamped, and every
    /// other record carries 0, which every reader of the stamp here (latency histograms, delivery-log latencies) leaves
    /// out. Default 1: every post is stamped. A larger value keeps a latency sample at a fraction of the clock reads (one
    /// costs about 21 ns on the VM of docs/performance.md); <see cref="Engine.PostBatch"/> stamps once per call either way.
    /// </summary>
    public int PostTimeSampleInterval { get; init; } = 1;

    /// <summary>
    /// A managed notifier, called with a vCPU that has new pending interrupts and no notification outstanding. Called
    /// from any thread that delivers (see <see cref="IDeliveryNotifier"/>: the deliver thread, in fused mode a posting thread
    /// that found it parked (<see cref="AssistIdlePipeline"/>), the threads that call <see cref="Engine.DeliverRemote"/>,
    /// and a drain on the caller's thread), possibly concurrently: it must be thread-safe. A vCPU is not notified again until it has taken its pending
    /// interrupts. See <see cref="NotifierExceptions"/> for what happens when it throws.
    /// </summary>
    public Action<int>? NotifyCallback { get; init; }

    /// <summary>What a throwing notifier means (default: count, report, keep delivering). See docs/lifecycle.md.</summary>
    public NotifierExceptionPolicy NotifierExceptions { get; init; } = NotifierExceptionPolicy.Continue;

    /// <summary>
    /// Called with the vCPU and the exception when the notifier throws (on the thread that notified; it must be
    /// thread-safe and must not post). Null (the default): the first such exception is written to
    /// <see cref="System.Diagnostics.Trace"/>; all are counted in <see cref="EngineCounters.NotifierFaults"/>. A handler
    /// that throws faults the engine once the batch is delivered and counted.
    /// </summary>
    public Action<int, Exception>? NotifierExceptionHandler { get; init; }

    /// <summary>An unmanaged notifier <c>void notify(intptr_t context, int vcpu)</c> (takes precedence over <see cref="NotifyCallback"/>).</summary>
    public delegate* unmanaged<nint, int, void> NativeNotifier { get; init; }

    /// <summary>The context passed to <see cref="NativeNotifier"/>.</summary>
    public nint NativeNotifierContext { get; init; }

    /// <summary>Entries of the delivery log (0, the default: no log).</summary>
    public int DeliveryLogCapacity { get; init; }

    /// <summary>
    /// Which deliveries the log keeps when more arrive than it holds: the first ones, in order (the default; replays and
    /// exact checks), or a uniform sample of all of them (latency over a long run).
    /// </summary>
    public DeliveryLogMode DeliveryLogMode { get; init; } = DeliveryLogMode.First;

    /// <summary>Which node each vCPU lives on (null, the default: all local). Remote vCPUs need a <see cref="Forwarder"/>.</summary>
    public VcpuPlacement? Placement { get; init; }

    /// <summary>Takes the deliveries to vCPUs on other nodes, once per batch per node.</summary>
    public RemoteForwarder? Forwarder { get; init; }

    /// <summary>
    /// Who serves destinations on this node: the engine (the default), or the host's kernel, which already delivered
    /// them at the ICR write (KVM with the distributed-VM patch): then the engine counts them as served by the host and
    /// forwards only the destinations on other nodes.
    /// </summary>
    public LocalTargets LocalTargets { get; init; } = LocalTargets.Engine;

    /// <summary>
    /// Makes this engine's topology writes VM-wide (a multi-node VM: <c>NodeTransport.Replication</c>): each one posted
    /// here is handed to it instead of being applied at once, and it applies the writes of every node here, in one order
    /// for the whole VM. A replicator serves one engine. Null (the default): topology writes are local.
    /// </summary>
    public TopologyReplicator? Replicator { get; init; }

    /// <summary>A name for this engine's metrics (the <c>engine</c> tag). Default "engine".</summary>
    public string Name { get; init; } = "engine";

    /// <summary>The vCPU count the options resolve to, after checking everything; throws a clear error otherwise.</summary>
    internal int Validate()
    {
        int vcpus = VcpuCount == 0 && Topology is not null ? Topology.VcpuCount : VcpuCount;
        if (vcpus < 1 || vcpus > MaxVcpus)
        {
            throw new ArgumentException($"VcpuCount must be between 1 and {MaxVcpus} (got {vcpus}).", nameof(VcpuCount));
        }

        if (Topology is not null && Topology.VcpuCount != vcpus)
        {
            throw new ArgumentException($"The topology has {Topology.VcpuCount} vCPUs but VcpuCount is {vcpus}.", nameof(Topology));
        }

        if (DeviceSources < 0 || DeviceSources > MaxVcpus - vcpus)
        {
            throw new ArgumentException($"DeviceSources must be between 0 and {MaxVcpus - vcpus} with {vcpus} vCPUs (got {DeviceSources}).", nameof(DeviceSources));
        }

        if (RingCapacity != 0 && (RingCapacity < 2 || RingCapacity > MaxRingCapacity || !BitOperations.IsPow2(RingCapacity)))
        {
            throw new ArgumentException($"RingCapacity must be a power of two of at least 2 and at most {MaxRingCapacity}, or 0 for automatic (got {RingCapacity}).", nameof(RingCapacity));
        }

        if (PipelineRingSize < 512 || PipelineRingSize > MaxRingCapacity || !BitOperations.IsPow2(PipelineRingSize))
        {
            throw new ArgumentException($"PipelineRingSize must be a power of two from 512 to {MaxRingCapacity} (got {PipelineRingSize}).", nameof(PipelineRingSize));
        }

        if (!Enum.IsDefined(ThreadingMode) || !Enum.IsDefined(WaitStrategy) || !Enum.IsDefined(BackPressure) || !Enum.IsDefined(DeliveryLogMode) || !Enum.IsDefined(NotifierExceptions) || !Enum.IsDefined(LocalTargets))
        {
            throw new ArgumentException("ThreadingMode, WaitStrategy, BackPressure, DeliveryLogMode, NotifierExceptions and LocalTargets must be defined values.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(DeliveryLogCapacity);
        if (PostTimeSampleInterval < 1)
        {
            throw new ArgumentException($"PostTimeSampleInterval must be at least 1 (got {PostTimeSampleInterval}).", nameof(PostTimeSampleInterval));
        }
        if (DeliveryLogMode == DeliveryLogMode.Sample && DeliveryLogCapacity == 1)
        {
            throw new ArgumentException("DeliveryLogCapacity must be 0 (no log) or at least 2 with DeliveryLogMode.Sample (got 1): the sample halves pairs of entries.", nameof(DeliveryLogCapacity));
        }
        ArgumentNullException.ThrowIfNull(Name);
        ValidatePlacement(vcpus);
        ValidatePipelineCpus();
        if (IoApicNode != -1 && (Placement is null || !Placement.NodeOfVcpu.Contains(IoApicNode)))
        {
            throw new ArgumentException($"IoApicNode {IoApicNode} must be -1 or a node of the Placement that holds vCPUs.", nameof(IoApicNode));
        }

        return vcpus;
    }

    private void ValidatePipelineCpus()
    {
        if (PipelineCpus is not { } cpus)
        {
            return;
        }

        int threads = PipelineThreads(ThreadingMode);
        if (threads == 0)
        {
            throw new ArgumentException($"PipelineCpus needs pipeline threads, and {ThreadingMode} mode has none (the posting threads do its work): leave it null.", nameof(PipelineCpus));
        }

        if (cpus.Count != 1 && cpus.Count != threads)
        {
            throw new ArgumentException($"PipelineCpus names {cpus.Count} CPUs; {ThreadingMode} mode runs {threads} pipeline thread(s): give one CPU for each, in pipeline order, or one for all.", nameof(PipelineCpus));
        }

        int[] allowed = ThreadAffinity.AllowedCpus();
        if (allowed.Length == 0)
        {
            throw new ArgumentException("PipelineCpus: this OS does not let the engine pin its threads (Linux only): leave it null.", nameof(PipelineCpus));
        }

        foreach (int cpu in cpus)
        {
            if (Array.BinarySearch(allowed, cpu) < 0)
            {
                throw new ArgumentException($"PipelineCpus: CPU {cpu} is not one this thread may run on (allowed: {string.Join(",", allowed)}).", nameof(PipelineCpus));
            }
        }
    }

    private void ValidatePlacement(int vcpus)
    {
        if (Placement is null)
        {
            return;
        }

        if (Placement.VcpuCount != vcpus)
        {
            throw new ArgumentException($"The placement names {Placement.VcpuCount} vCPUs but the engine has {vcpus}.");
        }

        for (int vcpu = 0; vcpu < vcpus; vcpu++)
        {
            if (!Placement.IsLocal(vcpu) && Forwarder is null)
            {
                throw new ArgumentException($"vCPU {vcpu} lives on node {Placement.NodeOfVcpu[vcpu]}, not here: set a Forwarder.");
            }
        }
    }
}
