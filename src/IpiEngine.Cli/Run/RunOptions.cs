using System.CommandLine;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// The options of <c>ipi run</c>. Values are taken as text and checked here rather than by the parser, so every
/// bad value gets one sentence that names the option and what it accepts.
/// </summary>
internal sealed class RunOptions
{
    /// <summary>Largest vCPU count accepted (x2APIC cluster with dense IDs holds far more; this bounds memory).</summary>
    public const int MaxVcpus = 4096;

    /// <summary>Most device threads (each drives its share of the IOAPIC's 24 pins: at least one each).</summary>
    public const int MaxDevices = 16;

    /// <summary>Most nodes (processes) a multi-node run starts.</summary>
    public const int MaxNodes = 16;

    /// <summary>The options, in help order.</summary>
    public IReadOnlyList<Option> All => [Vcpus, Topology, Workload, Devices, Duration, Count, Threading, Wait, Assist, PipelineCpus, RingCapacity, Seed, Rate, PaceStep, SendBatch, Batch, Warmup, LatencySamples, Baseline, BaselineQueue, Json, Trace, Exits, Deliveries, Check, Loop, Nodes, LocalTargets, Plain];

    internal Option<string?> Vcpus { get; } = new("--vcpus") { Description = $"Number of emulated vCPUs (default {RunSettings.DefaultVcpus}); with --exits, the trace's vcpus.csv.", HelpName = "N|FILE" };

    internal Option<string?> Topology { get; } = new("--topology") { Description = "xapic-flat, xapic-cluster, xapic-physical, x2apic-physical or x2apic-cluster (default), each optionally -sparse.", HelpName = "KIND" };

    internal Option<string?> Workload { get; } = new("--workload") { Description = "unicast, multicast, broadcast, linux-mix (default), storm, or weights such as single=60,resched=30,call=5,tlb=4,broadcast=1,pv-ipi=10,msi=5,ioapic=5 (pv-ipi: CALL_FUNCTION by the KVM_HC_SEND_IPI hypercall; msi and ioapic: device interrupts posted by --devices threads, level IOAPIC pins EOI'd by the vCPU that takes them); or a closed loop where each vCPU sends and waits for the ack: call-single (one target), tlb-shootdown (a set of 3), ping-pong (pairs bounce one IPI); --count is then round trips.", HelpName = "MIX" };

    internal Option<string?> Devices { get; } = new("--devices") { Description = $"Device threads posting the msi and ioapic weights' interrupts, each on its own ring (default 1; at most {MaxDevices}).", HelpName = "K" };

    internal Option<string?> Duration { get; } = new("--duration") { Description = "Length of the measured window, e.g. 10s (default), 0.3s, 500ms.", HelpName = "TIME" };

    internal Option<string?> Count { get; } = new("--count") { Description = "Offer exactly this many IPIs (firing writes) instead of running for a duration.", HelpName = "N" };

    internal Option<string?> Threading { get; } = new("--threading") { Description = "Engine threading: fused (default, one thread runs every stage), per-stage, or inline (the posting threads resolve and deliver).", HelpName = "MODE" };

    internal Option<string?> Wait { get; } = new("--wait") { Description = $"The engine's wait strategy: {string.Join(", ", EngineNames.WaitStrategies)} (default {EngineNames.Of(new EngineOptions().WaitStrategy)}).", HelpName = "STRATEGY" };

    internal Option<string?> Assist { get; } = new("--assist") { Description = "Fused threading: on (default) lets a post that finds the pipeline thread parked resolve and deliver its own vCPU's records instead of waking it; off leaves all the work to the pipeline thread. Applies to generated workloads, trace replays and every node of --nodes.", HelpName = "on|off" };

    internal Option<string?> PipelineCpus { get; } = new("--pipeline-cpus") { Description = "Pin the engine's pipeline threads to these logical CPUs, in pipeline order: fused one; per-stage three (gather,resolve,deliver, e.g. 0,1,1) or one for all (default: the OS places them; Linux). With --nodes: one list for every node, or one per node separated by slashes (0/1). Not for a trace on one engine.", HelpName = "CPUS" };

    internal Option<string?> RingCapacity { get; } = new("--ring-capacity") { Description = $"Per-vCPU ring capacity in records, a power of two (default: {EngineOptions.MaxAutomaticRingCapacity}, smaller beyond 64 vCPUs so all rings fit in {EngineOptions.AutomaticRingBytes >> 20} MiB).", HelpName = "N" };

    internal Option<string?> Seed { get; } = new("--seed") { Description = "Workload seed: the same seed gives the same offered sequence (default 1).", HelpName = "N" };

    internal Option<string?> Rate { get; } = new("--rate") { Description = "Offered load in IPIs/s over all vCPUs, e.g. 2M (default: unlimited).", HelpName = "IPIS" };

    internal Option<string?> PaceStep { get; } = new("--pace-step") { Description = $"With --nodes and --rate: each node posts what is due once per step and sleeps between steps (default {IpiEngine.Cli.Nodes.PacingClock.DefaultStepMicroseconds}us; from 1us to 1s; 1ms gives Thread.Sleep's whole-millisecond bursts).", HelpName = "TIME" };

    internal Option<string?> SendBatch { get; } = new("--send-batch") { Description = "With --nodes and --rate: on (default) lets each node's posting thread send its links' frames itself at the end of each pacing step, while a link's send loop is parked, instead of waking that loop through the thread pool (NodeTransport.BeginSendBatch); off wakes the loop per forward.", HelpName = "on|off" };

    internal Option<string?> Batch { get; } = new("--batch") { Description = $"Records per post call: 1 posts each exit alone, more uses PostBatch (default {RunSettings.DefaultBatch}).", HelpName = "N" };

    internal Option<string?> Warmup { get; } = new("--warmup") { Description = "Warm-up on a throw-away engine before the measured window (with --nodes: in each node process, on a throw-away VM of two nodes); default: a fifth of the run, at most 1s; 0.1s with --count; 0 to skip.", HelpName = "TIME" };

    internal Option<string?> LatencySamples { get; } = new("--latency-samples") { Description = $"Deliveries sampled uniformly over the run for the latency percentiles (default {RunSettings.DefaultLatencySamples}; 0 turns the log off).", HelpName = "N" };

    internal Option<bool> Baseline { get; } = new("--baseline") { Description = "Also run the probe (the engine's bare shape: per-vCPU SPSC rings, one consumer ORing pending bits, unicast) with the same vCPU count and batch, taking turns with the engine in slices of 0.5 s, each between two core-distance readings; print the engine rate, the probe rate and their ratio, over all slices and over the near and the far slices apart (unpaced, no device weights)." };

    internal Option<bool> BaselineQueue { get; } = new("--baseline-queue") { Description = "With --baseline: a third turn after the probe's, a ConcurrentQueue per vCPU (one record per call; one consumer resolving each record with the engine's resolver and ORing each delivery into the descriptors, the rig of HeadlineBenchmarks.ConcurrentQueues); print the engine's rate as a multiple of it, over all slices and per core state." };

    internal Option<string?> Json { get; } = new("--json") { Description = "Also write the summary as JSON to FILE, or to stdout with -.", HelpName = "FILE" };

    internal Option<string?> Trace { get; } = new("--trace") { Description = "Replay a recorded trace through the engine instead (a bundled name such as xapic-flat-smp4, or a path prefix).", HelpName = "NAME" };

    internal Option<string?> Exits { get; } = new("--exits") { Description = "Replay this exits.csv (with --vcpus FILE) instead of a named trace.", HelpName = "FILE" };

    internal Option<string?> Deliveries { get; } = new("--deliveries") { Description = "Trace replay: write the deliveries in deliveries.csv format.", HelpName = "FILE" };

    internal Option<string?> Check { get; } = new("--check") { Description = "Trace replay: compare the deliveries with this reference (default: the trace's own deliveries.csv).", HelpName = "FILE" };

    internal Option<string?> Loop { get; } = new("--loop") { Description = "Trace replay: replay K times back to back for a throughput figure (default 1).", HelpName = "K" };

    internal Option<string?> Nodes { get; } = new("--nodes") { Description = "Spread the VM over N engines in N processes on loopback, forwarding IPIs between them (vCPU v on node v % N): the same workload options (--vcpus in all, every --topology, --count over all vCPUs, --rate over all nodes), or a trace (--trace or --vcpus FILE --exits FILE, with --deliveries and --check).", HelpName = "N" };

    internal Option<string?> LocalTargets { get; } = new("--local-targets") { Description = "With --nodes: who serves each node's own targets, engine (default) or kernel (a stand-in for KVM, which delivers them at the ICR write; the engines forward only remote targets).", HelpName = "WHO" };

    internal Option<bool> Plain { get; } = new("--plain") { Description = "Plain progress lines even on a terminal." };

    /// <summary>Reads and checks every option; throws <see cref="RunInputException"/> on the first bad one.</summary>
    public RunSettings Read(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (parse.UnmatchedTokens.Count > 0)
        {
            throw new RunInputException($"Unknown option or argument '{parse.UnmatchedTokens[0]}': see ipi run --help.");
        }

        if (parse.Errors.Count > 0)
        {
            throw new RunInputException(parse.Errors[0].Message);
        }

        var threading = Choice(parse, Threading, [.. EngineNames.ThreadingModes]) ?? "fused";
        var settings = new RunSettings
        {
            Threading = threading,
            Wait = Choice(parse, Wait, [.. EngineNames.WaitStrategies]),
            Assist = EngineNames.Assist(Text(parse, Assist), threading),
            PipelineCpus = Text(parse, PipelineCpus) is { } pc && Text(parse, Nodes) is null ? PipelineCpuList.Parse(pc, threading) : null,
            RingCapacity = Text(parse, RingCapacity) is { } rc ? RingCapacityOf(rc) : null,
            JsonPath = Text(parse, Json) is { } json && json != "-" ? WritablePath("--json", json) : Text(parse, Json),
            Plain = parse.GetValue(Plain),
            Baseline = parse.GetValue(Baseline),
            BaselineQueue = parse.GetValue(BaselineQueue),
        };

        if (settings.BaselineQueue && !settings.Baseline)
        {
            throw new RunInputException("--baseline-queue adds a turn to --baseline's: give --baseline too.");
        }

        if (settings.PipelineCpus is not null && (Text(parse, Trace) is not null || Text(parse, Exits) is not null))
        {
            throw new RunInputException("--pipeline-cpus applies to a generated workload on one engine or to --nodes, not to a trace replayed on one engine.");
        }

        if (settings.Baseline && (Text(parse, Nodes) is not null || Text(parse, Trace) is not null || Text(parse, Exits) is not null))
        {
            throw new RunInputException("--baseline applies to a generated workload on one engine, not to --nodes or trace replays.");
        }

        if (Text(parse, Nodes) is { } nodes)
        {
            return ReadNodes(parse, settings, nodes);
        }

        if (Text(parse, PaceStep) is not null)
        {
            throw new RunInputException("--pace-step applies to --nodes with --rate: on one engine each vCPU thread paces every IPI on its own.");
        }

        if (Text(parse, SendBatch) is not null)
        {
            throw new RunInputException("--send-batch applies to --nodes with --rate: one engine has no links to send on.");
        }

        if (Text(parse, LocalTargets) is not null)
        {
            throw new RunInputException("--local-targets applies to --nodes runs only (one engine has no other node to forward to).");
        }

        return Text(parse, Trace) is not null || Text(parse, Exits) is not null
            ? ReadTrace(parse, settings)
            : ReadSynthetic(parse, settings);
    }

    private RunSettings ReadSynthetic(ParseResult parse, RunSettings settings)
    {
        foreach (var traceOnly in new[] { Deliveries, Check, Loop })
        {
            if (Text(parse, traceOnly) is not null)
            {
                throw new RunInputException($"{traceOnly.Name} applies to trace replays only (with --trace or --exits).");
            }
        }

        if (Text(parse, Duration) is not null && Text(parse, Count) is not null)
        {
            throw new RunInputException("Give either --duration or --count, not both.");
        }

        if (Text(parse, Workload) is { } loop && ClosedLoopRun.Parse(loop) is { } kind)
        {
            return ReadClosedLoop(parse, settings, kind);
        }

        WorkloadMix? mix = WorkloadMix.LinuxMix;
        if (Text(parse, Workload) is { } w && !WorkloadMix.TryParse(w, out mix, out var error))
        {
            throw new RunInputException(error!.Replace("storm, or weights", "storm, call-single, tlb-shootdown, ping-pong, or weights", StringComparison.Ordinal));
        }

        if (Text(parse, Devices) is not null && !mix!.HasDevices)
        {
            throw new RunInputException("--devices applies to workloads with msi or ioapic weights, e.g. --workload single=80,msi=10,ioapic=10.");
        }

        if (settings.Baseline && Text(parse, Rate) is { } paced && paced.Trim() != "unlimited")
        {
            throw new RunInputException("--baseline compares unpaced throughput with the probe's; it does not apply to --rate.");
        }

        if (settings.Baseline && mix!.HasDevices)
        {
            throw new RunInputException("--baseline compares the vCPUs' IPIs with the probe's; it does not apply to a workload with msi or ioapic weights.");
        }

        return settings with
        {
            Devices = mix!.HasDevices ? Text(parse, Devices) is { } dv ? (int)OptionValues.Positive("--devices", dv, MaxDevices) : 1 : 0,
            Vcpus = Text(parse, Vcpus) is { } v ? (int)OptionValues.Positive("--vcpus", v, MaxVcpus) : RunSettings.DefaultVcpus,
            Topology = Text(parse, Topology) is { } t ? TopologyChoice.Parse(t) : settings.Topology,
            Mix = mix!,
            Duration = Text(parse, Duration) is { } d ? OptionValues.Duration("--duration", d) : RunSettings.DefaultDuration,
            Count = Text(parse, Count) is { } c ? OptionValues.Positive("--count", c, long.MaxValue / 4) : null,
            Seed = Text(parse, Seed) is { } s ? SeedOf(s) : 1,
            Rate = Text(parse, Rate) is { } r && r.Trim() != "unlimited" ? OptionValues.Scaled("--rate", r) : null,
            Batch = Text(parse, Batch) is { } b ? (int)OptionValues.Positive("--batch", b, 4096) : RunSettings.DefaultBatch,
            Warmup = Text(parse, Warmup) is { } wu ? OptionValues.Duration("--warmup", wu, allowZero: true) : null,
            LatencySamples = Text(parse, LatencySamples) is { } ls ? LatencySamplesOf(ls) : RunSettings.DefaultLatencySamples,
        };
    }

    private RunSettings ReadClosedLoop(ParseResult parse, RunSettings settings, ClosedLoopKind kind)
    {
        var name = ClosedLoopRun.NameOf(kind);
        foreach (var openLoopOnly in new[] { Rate, Batch, LatencySamples, Nodes, Devices })
        {
            if (Text(parse, openLoopOnly) is not null)
            {
                throw new RunInputException($"{openLoopOnly.Name} does not apply to --workload {name}: a closed loop posts one IPI and waits for its ack, on one engine.");
            }
        }

        if (Text(parse, Duration) is not null && Text(parse, Count) is not null)
        {
            throw new RunInputException("Give either --duration or --count, not both.");
        }

        if (settings.Baseline)
        {
            throw new RunInputException($"--baseline compares open-loop throughput; it does not apply to --workload {name}.");
        }

        var vcpus = Text(parse, Vcpus) is { } v ? (int)OptionValues.Positive("--vcpus", v, ClosedLoopDriver.MaxVcpus) : RunSettings.DefaultVcpus;
        if (vcpus < 2 || (kind == ClosedLoopKind.PingPong && vcpus % 2 != 0))
        {
            throw new RunInputException(kind == ClosedLoopKind.PingPong
                ? $"--workload ping-pong pairs the vCPUs: give an even --vcpus of at least 2, not {vcpus}."
                : $"--workload {name} needs at least 2 vCPUs (a vCPU does not call itself), not {vcpus}.");
        }

        var senders = kind == ClosedLoopKind.PingPong ? vcpus / 2 : vcpus;
        var count = Text(parse, Count) is { } c ? OptionValues.Positive("--count", c, long.MaxValue / 4) : (long?)null;
        return settings with
        {
            ClosedLoop = kind,
            Vcpus = vcpus,
            Topology = Text(parse, Topology) is { } t ? TopologyChoice.Parse(t) : settings.Topology,
            Mix = WorkloadMix.Unicast,
            Duration = Text(parse, Duration) is { } d ? OptionValues.Duration("--duration", d) : RunSettings.DefaultDuration,
            Count = count is { } n && n < senders
                ? throw new RunInputException($"--count with --workload {name} is round trips shared over the {senders} sending vCPUs: give at least {senders}, not {n}.")
                : count,
            Seed = Text(parse, Seed) is { } s ? SeedOf(s) : 1,
            Warmup = Text(parse, Warmup) is { } wu ? OptionValues.Duration("--warmup", wu, allowZero: true) : null,
        };
    }

    private RunSettings ReadNodes(ParseResult parse, RunSettings settings, string text)
    {
        var nodes = (int)OptionValues.Positive("--nodes", text, MaxNodes);
        if (nodes < 2)
        {
            throw new RunInputException("--nodes must be at least 2 (one engine process per node).");
        }

        var notForNodes = new[] { LatencySamples, Wait, RingCapacity, Loop };
        foreach (var option in notForNodes)
        {
            if (Text(parse, option) is not null)
            {
                throw new RunInputException($"{option.Name} applies to a run on one engine, not to --nodes.");
            }
        }

        settings = settings with
        {
            LocalTargets = Choice(parse, LocalTargets, ["engine", "kernel"]) ?? "engine",
            NodePipelineCpus = Text(parse, PipelineCpus) is { } pc ? PipelineCpuList.ParsePerNode(pc, settings.Threading, nodes) : null,
        };
        if (Text(parse, Trace) is not null || Text(parse, Exits) is not null)
        {
            var trace = ReadTrace(parse, settings);
            var vcpus = global::IpiEngine.Trace.TraceReader.ReadVcpus(trace.VcpusPath!).Length;
            return vcpus >= nodes
                ? trace with { Nodes = nodes, Vcpus = vcpus }
                : throw new RunInputException($"--nodes {nodes} is more than the trace's {vcpus} vCPUs: each node holds at least one (vCPU v on node v % N).");
        }

        // The same workload options and defaults as a single-engine run, spread over the nodes.
        var synthetic = ReadSynthetic(parse, settings);
        if (Text(parse, Batch) is null)
        {
            synthetic = synthetic with { Batch = RunSettings.DefaultNodesBatch };
        }

        if (synthetic.Mix.HasDevices)
        {
            throw new RunInputException("--nodes does not take msi or ioapic weights: the node processes run no device threads yet, so drop --nodes or the device weights.");
        }

        if (synthetic.Vcpus < nodes)
        {
            throw new RunInputException($"--vcpus must be at least --nodes (each node holds at least one vCPU), not {synthetic.Vcpus} over {nodes}.");
        }

        try
        {
            Apic.ApicTopology.Configure(synthetic.Vcpus, synthetic.Topology.Kind, synthetic.Topology.SparseIds);
        }
        catch (ArgumentException e)
        {
            throw new RunInputException($"--topology {synthetic.Topology.Name} cannot hold {synthetic.Vcpus} vCPUs: {e.Message.Split(" (Parameter", 2)[0]}");
        }

        // Each vCPU posts the same number of IPIs and each node the same rate: refuse what cannot be shared out exactly.
        if (synthetic.Count is { } count && count % synthetic.Vcpus != 0)
        {
            throw new RunInputException($"--count with --nodes is shared equally over the vCPUs: give a multiple of --vcpus ({synthetic.Vcpus}), not {count}.");
        }

        if (synthetic.Rate is { } rate && (rate < nodes || rate % nodes != 0))
        {
            throw new RunInputException($"--rate with --nodes is shared equally over the nodes: give a whole multiple of {nodes} IPIs/s, not {rate:0.###}.");
        }

        // The node processes take their times in whole milliseconds: refuse what they would cut (review of 2026-12-07:
        // --duration 500us reached the nodes as 0 and was refused by them, after they started, naming --duration-ms).
        if (synthetic.Count is null && (synthetic.Duration < TimeSpan.FromMilliseconds(1) || synthetic.Duration.Ticks % TimeSpan.TicksPerMillisecond != 0))
        {
            throw new RunInputException($"--duration with --nodes reaches the node processes in whole milliseconds: give at least 1ms in whole milliseconds, not {synthetic.Duration.TotalMilliseconds:0.###}ms.");
        }

        if (synthetic.Warmup is { } warmup && warmup.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new RunInputException($"--warmup with --nodes reaches the node processes in whole milliseconds: give 0 or whole milliseconds, not {warmup.TotalMilliseconds:0.###}ms.");
        }

        if (Text(parse, PaceStep) is { } step && synthetic.Rate is null)
        {
            throw new RunInputException("--pace-step paces an offered load: give --rate too (an unpaced run posts as fast as the engines take the IPIs).");
        }

        if (Text(parse, SendBatch) is not null && synthetic.Rate is null)
        {
            throw new RunInputException("--send-batch flushes at each pacing step: give --rate too (an unpaced node never sleeps between steps).");
        }

        return synthetic with
        {
            Nodes = nodes,
            PaceStep = Text(parse, PaceStep) is { } ps ? PaceStepOf(ps) : null,
            SendBatch = EngineNames.OnOff("--send-batch", Text(parse, SendBatch), fallback: true),
        };
    }

    private static TimeSpan PaceStepOf(string text)
    {
        var step = OptionValues.Duration("--pace-step", text);
        return step >= TimeSpan.FromMicroseconds(1) && step <= TimeSpan.FromMicroseconds(IpiEngine.Cli.Nodes.PacingClock.MaxStepMicroseconds)
            && step.Ticks % TimeSpan.TicksPerMicrosecond == 0
            ? step
            : throw new RunInputException($"--pace-step must be a whole number of microseconds from 1us to 1s, such as 250us or 1ms, not '{text}'.");
    }

    private RunSettings ReadTrace(ParseResult parse, RunSettings settings)
    {
        foreach (var syntheticOnly in new[] { Topology, Workload, Devices, Duration, Count, Seed, Rate, PaceStep, SendBatch, Warmup, Batch, LatencySamples })
        {
            if (Text(parse, syntheticOnly) is not null)
            {
                throw new RunInputException($"{syntheticOnly.Name} applies to generated workloads only, not to trace replays.");
            }
        }

        string name, vcpus, exits;
        string? reference = null;
        if (Text(parse, Trace) is { } traceName)
        {
            if (Text(parse, Exits) is not null || Text(parse, Vcpus) is not null)
            {
                throw new RunInputException("Give either --trace NAME or --vcpus FILE with --exits FILE, not both.");
            }

            (name, vcpus, exits, reference) = LocateTrace(traceName);
        }
        else
        {
            exits = Text(parse, Exits)!;
            vcpus = Text(parse, Vcpus) ?? throw new RunInputException("--exits needs --vcpus FILE (the trace's vcpus.csv).");
            name = Path.GetFileName(exits);
        }

        return settings with
        {
            TraceName = name,
            VcpusPath = vcpus,
            ExitsPath = exits,
            DeliveriesPath = Text(parse, Deliveries) is { } d && d != "-" ? WritablePath("--deliveries", d) : Text(parse, Deliveries),
            CheckPath = Text(parse, Check) ?? reference,
            Loop = Text(parse, Loop) is { } k ? (int)OptionValues.Positive("--loop", k, 1_000_000) : 1,
        };
    }

    /// <summary>The trace <c>--trace</c> names (<see cref="BundledTraces.Locate"/>), its refusal as the run's input error.</summary>
    private static TraceFiles LocateTrace(string name)
    {
        try
        {
            return BundledTraces.Locate(name);
        }
        catch (ArgumentException e)
        {
            throw new RunInputException(e.Message);
        }
    }

    private static string? Text(ParseResult parse, Option<string?> option)
        => parse.GetValue(option) is { } value ? value : null;

    private static string? Choice(ParseResult parse, Option<string?> option, string[] accepted)
    {
        var value = Text(parse, option)?.Trim().ToLowerInvariant();
        if (value is null || Array.IndexOf(accepted, value) >= 0)
        {
            return value;
        }

        throw new RunInputException($"Unknown {option.Name} value '{Text(parse, option)}': use one of {string.Join(", ", accepted)}.");
    }

    private static int RingCapacityOf(string text)
    {
        var capacity = OptionValues.Positive("--ring-capacity", text, 1 << 24);
        if ((capacity & (capacity - 1)) != 0 || capacity < 2)
        {
            throw new RunInputException($"--ring-capacity must be a power of two from 2 to 16777216, not '{text}'.");
        }

        return (int)capacity;
    }

    /// <summary>Checks up front that an output file's folder exists, so a long run does not end in an error.</summary>
    private static string WritablePath(string option, string path)
    {
        if (Directory.Exists(path))
        {
            throw new RunInputException($"{option} cannot write '{path}': it is a directory; give a file name.");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        return folder is null || Directory.Exists(folder)
            ? path
            : throw new RunInputException($"{option} cannot write '{path}': the folder '{folder}' does not exist.");
    }

    private static int LatencySamplesOf(string text)
    {
        if (text.Trim() == "0")
        {
            return 0;
        }

        long n;
        try
        {
            n = OptionValues.Positive("--latency-samples", text, 1 << 26);
        }
        catch (RunInputException)
        {
            n = 0; // refused below with a sentence that says 0 is allowed (the positive-number one would hide it)
        }

        return n >= 2 ? (int)n
            : throw new RunInputException($"--latency-samples must be 0 (no log) or a whole number from 2 to {(1 << 26).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} (an even sample halves pairs), not '{text}'.");
    }

    private static int SeedOf(string text)
        => int.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var seed)
            ? seed
            : throw new RunInputException($"--seed must be a whole number, not '{text}'.");
}
