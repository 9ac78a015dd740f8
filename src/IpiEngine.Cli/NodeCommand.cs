using System.CommandLine;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.Run;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using IpiEngine.Workload;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi node</c>: runs one node of a multi-host VM from a config file. Prints <c>listening ADDRESS</c>, then
/// <c>ready</c> once every peer link is up, posts its own vCPUs' parts of the VM's seeded workload (<see cref="NodeScript"/>:
/// <c>--workload</c>, <c>--topology</c>, <c>--seed</c>, <c>--ipis-per-vcpu</c> or <c>--duration-ms</c>) into this node's
/// <see cref="Engine"/>, which resolves each IPI and forwards deliveries to remote vCPUs over the links (arrivals are
/// counted by <see cref="NodeArrivals"/> and go into the engine's descriptors through <see cref="EngineSink"/>), prints
/// <c>posted C0,C1,...</c> (IPIs per vCPU of the VM, 0 for the others' vCPUs) and finally <c>result {json}</c> (a
/// <see cref="NodeReport"/>). With <c>--control</c> it serves until <c>go</c> (or leaves at <c>stop</c>), answering
/// <see cref="NodeControl"/>'s lines meanwhile (topology writes, the topology's epoch and digest); after posting it
/// waits for <c>expect C0,C1,...</c> (every vCPU's posted IPIs, summed over the nodes), prints <c>drained</c> once all
/// it forwarded is acknowledged and all it expects arrived (or its timeout passed), waits for <c>finish</c> (sent once
/// every node said <c>drained</c>, so no node counts while a copy could still land) before checking, and for
/// <c>stop</c> (or end of input) before leaving; without it every vCPU is taken to post <c>--ipis-per-vcpu</c>. With fused
/// threading, <c>--assist on|off</c> sets the engine's idle assist (the report says which, and its assisted passes).
/// Exit codes: 0 complete, 1 incomplete or timed out, 2 bad input.
/// </summary>
internal static class NodeCommand
{
    /// <summary>
    /// Deliveries the engine logs (40 bytes each): local ones are checked per (source, destination) pair from the log;
    /// a run that delivers more locally is checked in aggregate (the report says which).
    /// </summary>
    private const int LocalLogCapacity = 1 << 19;

    /// <summary>
    /// Post-time stamps on one IPI in this many per vCPU (<see cref="EngineOptions.PostTimeSampleInterval"/>): the
    /// cross-node latency comes from that sample. Stamping every post read the clock about 14 M times a second in an
    /// unpaced two-node run, a sixth of the machine's time (perf, 2026-12-04).
    /// </summary>
    internal const int LatencySampleInterval = 64;

    /// <summary>The most IPIs a vCPU posts per turn (<c>--batch</c>), as for <c>ipi run --batch</c>.</summary>
    internal const int MaxBatch = 4096;

    /// <summary>Builds the verb.</summary>
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "The node's JSON config (node, listen, keyFile, placement, peers).", Required = true };
        var topology = new Option<string>("--topology") { Description = "The VM's APIC topology, as for ipi run (xapic-flat, xapic-cluster, xapic-physical, x2apic-physical, x2apic-cluster, each optionally -sparse).", DefaultValueFactory = _ => "x2apic-cluster" };
        var workload = new Option<string>("--workload") { Description = "The IPI mix, as for ipi run.", DefaultValueFactory = _ => "linux-mix" };
        var seed = new Option<int>("--seed") { Description = "The workload seed (the same on every node).", DefaultValueFactory = _ => 1 };
        var ipis = new Option<long>("--ipis-per-vcpu") { Description = "IPIs each local vCPU posts (0: post for --duration-ms, or only serve without --control).", DefaultValueFactory = _ => 0 };
        var duration = new Option<int>("--duration-ms") { Description = "How long to post when --ipis-per-vcpu is 0 (with --control).", DefaultValueFactory = _ => 1000 };
        var rate = new Option<long>("--rate") { Description = "IPIs per second this node posts (0: as fast as possible; pace it to measure latency rather than queueing).", DefaultValueFactory = _ => 0 };
        var paceStep = new Option<int>("--pace-step-us") { Description = $"With --rate: post what is due once every N microseconds, sleeping between (1 to 1,000,000; under 1000 needs Linux's clock_nanosleep, elsewhere a step is at least 1 ms).", DefaultValueFactory = _ => PacingClock.DefaultStepMicroseconds };
        var timeout = new Option<int>("--timeout") { Description = "Seconds allowed for connecting and for the run.", DefaultValueFactory = _ => 60 };
        var control = new Option<bool>("--control") { Description = "Wait for 'go', 'expect ...', 'finish' (after printing 'drained') and 'stop' lines on standard input (used by ipi run --nodes)." };
        var traceVcpus = new Option<FileInfo?>("--trace-vcpus") { Description = "Replay this trace's vcpus.csv over the nodes (with --trace-exits, --deliveries and --control) instead of a workload." };
        var traceExits = new Option<FileInfo?>("--trace-exits") { Description = "The trace's exits.csv: this node posts its vCPUs' records and applies the topology rows." };
        var threading = new Option<string>("--threading") { Description = "The engine's threading: fused, per-stage or inline.", DefaultValueFactory = _ => "fused" };
        var deliveries = new Option<FileInfo?>("--deliveries") { Description = "Trace replay: where this node writes what it delivered (seq,dest_vcpu,delivery_mode,vector lines)." };
        var svrWrites = new Option<int>("--svr-write-every") { Description = "Each local vCPU also writes its SVR (a topology write replicated to every node; routing unchanged) before every N-th IPI (0: never).", DefaultValueFactory = _ => 0 };
        var progress = new Option<int>("--progress-ms") { Description = "While posting, print 'progress TIMESTAMP SERVED' (Stopwatch ticks, local destinations served so far) every N ms (0: never).", DefaultValueFactory = _ => 0 };
        var assist = new Option<string?>("--assist") { Description = "Fused threading: on (default) lets a post that finds the pipeline thread parked resolve and deliver its own vCPU's records instead of waking it; off leaves all the work to the pipeline thread (EngineOptions.AssistIdlePipeline).", HelpName = "on|off" };
        var batch = new Option<int>("--batch") { Description = "IPIs each local vCPU posts per turn: 1 posts each record with Post, more gathers them (ICR high writes included) into one PostBatch.", DefaultValueFactory = _ => 1 };
        var pipelineCpus = new Option<string?>("--pipeline-cpus") { Description = "Pin this node engine's pipeline threads to these logical CPUs, in pipeline order: fused one; per-stage three (gather,resolve,deliver) or one for all (default: the OS places them; Linux).", HelpName = "CPUS" };
        var sendBatch = new Option<string?>("--send-batch") { Description = "With --rate: on (default) lets the posting thread send the links' frames itself at each pacing step where a link's send loop is parked (NodeTransport.BeginSendBatch), instead of waking the loop through the thread pool; off wakes the loop per forward.", HelpName = "on|off" };
        var warmup = new Option<int>("--warmup-ms") { Description = "Before connecting, run this node's whole path (posting, resolution, the links, arrivals) for N ms on a throw-away VM of two nodes in this process, so that the measured window starts warm (0: no warm-up).", DefaultValueFactory = _ => 0 };
        var command = new Command("node", "Run one node of a VM whose vCPUs are spread over several hosts; forwards IPIs to its peers. For lower cross-node latency start it with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 in its environment, as ipi run --nodes does (docs/embedding.md, \"Beyond one host\").")
        {
            config, topology, workload, seed, ipis, duration, rate, paceStep, timeout, control, traceVcpus, traceExits, threading, assist, pipelineCpus, deliveries, svrWrites, progress, batch, warmup, sendBatch,
        };
        command.SetAction((parse, ct) =>
        {
            bool assistOn, sendBatchOn;
            int[]? cpus;
            // Each mode's options are refused in the other, rather than silently ignored.
            Option[] workloadOnly = [topology, workload, seed, ipis, duration, rate, paceStep, svrWrites, progress, batch, warmup, sendBatch];
            Option[] traceOnly = [traceVcpus, deliveries];
            bool tracing = parse.GetResult(traceExits) is not null;
            if ((tracing ? workloadOnly : traceOnly).FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } misplaced)
                return Task.FromResult(Fail(tracing
                    ? $"{misplaced.Name} applies to a generated workload, not to a trace replay (--trace-exits)."
                    : $"{misplaced.Name} applies to a trace replay: give --trace-exits too."));
            if (parse.GetResult(paceStep) is { Implicit: false } && parse.GetValue(rate) == 0)
                return Task.FromResult(Fail("--pace-step-us paces an offered load: give --rate too (an unpaced node posts as fast as its engine takes the IPIs)."));
            if (parse.GetValue(sendBatch) is not null && parse.GetValue(rate) == 0)
                return Task.FromResult(Fail("--send-batch flushes at each pacing step: give --rate too (an unpaced node never sleeps between steps)."));
            try
            {
                assistOn = EngineNames.Assist(parse.GetValue(assist), parse.GetValue(threading)!);
                sendBatchOn = EngineNames.OnOff("--send-batch", parse.GetValue(sendBatch), fallback: true);
                cpus = parse.GetValue(pipelineCpus) is { } text ? PipelineCpuList.Parse(text, parse.GetValue(threading)!) : null;
            }
            catch (RunInputException e)
            {
                return Task.FromResult(Fail(e.Message));
            }
            return parse.GetValue(traceExits) is { } exits
                ? RunTraceAsync(parse.GetRequiredValue(config).FullName, parse.GetValue(traceVcpus), exits, parse.GetValue(threading)!, assistOn, cpus, parse.GetValue(deliveries),
                    TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(control), ct)
                : RunAsync(new NodeRunArguments(parse.GetRequiredValue(config).FullName, parse.GetValue(topology)!, parse.GetValue(workload)!,
                    parse.GetValue(seed), parse.GetValue(ipis), TimeSpan.FromMilliseconds(parse.GetValue(duration)), parse.GetValue(rate),
                    TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(control), parse.GetValue(threading)!, parse.GetValue(svrWrites), parse.GetValue(progress), assistOn, parse.GetValue(batch)) { PipelineCpus = cpus, Warmup = TimeSpan.FromMilliseconds(parse.GetValue(warmup)), PaceStepMicroseconds = parse.GetValue(paceStep), SendBatch = sendBatchOn }, ct);
        });
        return command;
    }

    private static Task<int> RunTraceAsync(string configPath, FileInfo? vcpus, FileInfo exits, string threading, bool assist, int[]? pipelineCpus, FileInfo? deliveries,
        TimeSpan timeout, bool control, CancellationToken ct)
    {
        if (vcpus is null || deliveries is null || !control)
            return Task.FromResult(Fail("--trace-exits needs --trace-vcpus, --deliveries and --control (the nodes of a trace meet at its topology rows)."));
        if (timeout <= TimeSpan.Zero)
            return Task.FromResult(Fail("--timeout must be positive."));
        if (Directory.Exists(deliveries.FullName) || !Directory.Exists(deliveries.DirectoryName))
            return Task.FromResult(Fail($"--deliveries cannot write '{deliveries.FullName}': give a file in an existing folder.")); // checked before listening, not after the replay
        return TraceNodeProcess.RunAsync(configPath, vcpus.FullName, exits.FullName, threading, assist, pipelineCpus, deliveries.FullName, timeout, ct);
    }

    private static async Task<int> RunAsync(NodeRunArguments args, CancellationToken ct)
    {
        if (args.IpisPerVcpu < 0 || args.Rate < 0 || args.SvrWriteEvery < 0 || args.ProgressMs < 0 || args.Warmup < TimeSpan.Zero || args.Timeout <= TimeSpan.Zero || args.Duration <= TimeSpan.Zero)
            return Fail("--ipis-per-vcpu, --rate, --svr-write-every, --progress-ms and --warmup-ms must be 0 or more, --duration-ms and --timeout positive.");
        if (args.PaceStepMicroseconds < 1 || args.PaceStepMicroseconds > PacingClock.MaxStepMicroseconds)
            return Fail($"--pace-step-us must be from 1 to {PacingClock.MaxStepMicroseconds:N0}, not {args.PaceStepMicroseconds}.");
        if (args.Batch is < 1 or > MaxBatch)
            return Fail($"--batch must be between 1 and {MaxBatch}, not {args.Batch}.");
        if (!WorkloadMix.TryParse(args.Workload, out var mix, out var mixError))
            return Fail(mixError!);
        if (EngineNames.TryThreading(args.Threading) is null)
            return Fail($"--threading must be fused, per-stage or inline, not '{args.Threading}'.");
        NodeConfig config;
        TransportOptions options;
        NodeScript script;
        try
        {
            config = NodeConfig.Load(args.ConfigPath);
            options = config.ToTransportOptions(args.ConfigPath, line => Console.Error.WriteLine(line));
            var choice = TopologyChoice.Parse(args.Topology);
            script = NodeScript.Build(config.Placement!.Length, choice.Kind, choice.SparseIds, mix!, args.Seed, args.IpisPerVcpu);
        }
        catch (NodeConfigException e)
        {
            return Fail(e.Message);
        }
        catch (RunInputException e)
        {
            return Fail(e.Message);
        }
        catch (ArgumentException e)
        {
            return Fail($"--topology {args.Topology}: {e.Message.Split(" (Parameter", 2)[0]}");
        }
        int[] placement = config.Placement!;
        if (args.Warmup > TimeSpan.Zero && !await NodeWarmUp.RunAsync(script, args, config.LocalTargetsMode, options.Encrypt, ct))
        {
            if (ct.IsCancellationRequested)
                return 1; // interrupted while warming up: nothing was listened on or posted
            Console.Error.WriteLine($"node {config.Node}: the warm-up's throw-away VM did not connect or drain in time; the run goes on without a full warm-up.");
        }

        var transport = new NodeTransport(options);
        Engine engine;
        try
        {
            engine = NewEngine(script, placement, config.Node, config.LocalTargetsMode, transport, args);
        }
        catch (ArgumentException e)
        {
            return Fail($"node {config.Node}: {e.Message}");
        }
        try
        {
            return await RunNodeAsync(config, options, transport, engine, script, args, ct);
        }
        finally
        {
            await transport.DisposeAsync(); // first: no delivery may reach the engine after it is freed
            engine.Dispose();
        }
    }

    /// <summary>Node <paramref name="node"/>'s engine, forwarding through <paramref name="transport"/> (the warm-up builds its throw-away nodes with it too).</summary>
    /// <exception cref="ArgumentException">The options do not make an engine (said in the message).</exception>
    internal static Engine NewEngine(NodeScript script, int[] placement, int node, LocalTargets localTargets, NodeTransport transport, NodeRunArguments args)
        => new(new EngineOptions
        {
            Topology = script.NewTopology(),
            Placement = new VcpuPlacement(placement, node),
            Forwarder = transport,
            ThreadingMode = EngineNames.Threading(args.Threading),
            AssistIdlePipeline = args.Assist,
            PipelineCpus = args.PipelineCpus,
            LocalTargets = localTargets,
            Replicator = transport.Replication, // topology writes go to every node, in the VM's one order
            DeliveryLogCapacity = LocalLogCapacity,
            StampPostTime = true, // cross-node latency needs the post time in every mode (Inline would not stamp by default)
            PostTimeSampleInterval = LatencySampleInterval,
            Name = $"node{node}",
        });

    /// <summary>
    /// What node <paramref name="node"/> does with arrivals: counts them, then hands them to its engine, or, with the
    /// kernel serving local targets, to the kernel's stand-in, which sees every write first and takes the other nodes'
    /// IPIs (KVM_DSM_IPI); the stand-in is returned for the posting loop.
    /// </summary>
    internal static (NodeArrivals Arrivals, KernelStandIn? Kernel) NewArrivals(NodeScript script, int[] placement, int node, LocalTargets localTargets, Engine engine)
    {
        var kernel = localTargets == LocalTargets.Kernel ? new KernelStandIn(script.NewTopology(), placement, node, recordServed: false) : null;
        var arrivals = new NodeArrivals(placement, node, kernel is null ? new EngineSink(engine)
            : new InjectorSink(kernel, script.Kind is Apic.TopologyKind.X2ApicCluster or Apic.TopologyKind.X2ApicPhysical));
        return (arrivals, kernel);
    }

    private static async Task<int> RunNodeAsync(NodeConfig config, TransportOptions options, NodeTransport transport, Engine engine,
        NodeScript script, NodeRunArguments args, CancellationToken ct)
    {
        int[] placement = config.Placement!;
        var (arrivals, kernel) = NewArrivals(script, placement, config.Node, config.LocalTargetsMode, engine);
        try
        {
            transport.Start(arrivals);
        }
        catch (SocketException e)
        {
            return Fail($"node {config.Node} cannot listen on {options.Listen}: {e.Message}.");
        }
        engine.Start();
        Console.Out.WriteLine($"listening {transport.LocalEndPoint}");
        if (!await WaitAsync(() => transport.Links.All(l => l.IsConnected), args.Timeout, ct))
        {
            Console.Error.WriteLine($"node {config.Node}: not every peer connected within {args.Timeout.TotalSeconds:0} s.");
            return 1;
        }
        Console.Out.WriteLine("ready");
        using var status = new Timer(_ => PrintLinks(config.Node, transport), null, StatusInterval, StatusInterval);
        if (args.Control)
        {
            bool? go = await NodeControl.ServeUntilGoAsync(engine, transport, placement, config.Node, kernel, ct);
            if (go is null)
                return 1; // its input ended before go: nobody will say what to expect
            if (go == false)
                return 0; // told to stop before go: it served (links, forwarded records, topology writes) and leaves
        }
        if (args.IpisPerVcpu == 0 && !args.Control)
            await WaitAsync(() => false, Timeout.InfiniteTimeSpan, ct); // serve until interrupted
        var clock = Stopwatch.StartNew();
        var allocationsBefore = AllocationWindow.Now();
        var local = NodeWorkload.VcpusOf(placement, config.Node);
        long[] posted;
        using (var progress = args.ProgressMs > 0 ? new Timer(_ => PrintProgress(engine), null, 0, args.ProgressMs) : null)
        {
            try
            {
                posted = await Task.Run(() => script.Post(engine, local, args.IpisPerVcpu, args.Duration, args.Rate, kernel, ct, args.SvrWriteEvery, args.Batch, args.PaceStepMicroseconds,
                    args.SendBatch ? transport : null), CancellationToken.None);
            }
            catch (TopologyWriteException e)
            {
                Console.Error.WriteLine($"node {config.Node}: {e.Message}");
                return 1;
            }
        }
        double postSeconds = clock.Elapsed.TotalSeconds;
        Console.Out.WriteLine("posted " + string.Join(',', posted));
        long[] all;
        if (args.Control)
        {
            if (await ReadCommandAsync("expect", ct) is not { } line || !TryParseCounts(line, placement.Length, out all))
                return Fail($"node {config.Node}: expected 'expect' with {placement.Length} counts.");
        }
        else
        {
            all = [.. placement.Select(_ => args.IpisPerVcpu)];
        }
        var expected = NodeExpectation.Compute(script, placement, config.Node, all);
        bool complete = await WaitAsync(() => engine.ReadCounters().InFlight == 0 && transport.Links.All(l => l.Counters.InFlight == 0)
            && arrivals.Total >= expected.Remote, args.Timeout, ct);
        if (args.Control)
        {
            // Counted only once every node drained (TraceNodesRun says why): a late copy cannot land after the count.
            Console.Out.WriteLine("drained");
            if (await ReadCommandAsync("finish", ct) is null)
                return Fail($"node {config.Node}: expected 'finish'.");
        }
        engine.Stop(); // drained: the delivery log may now be read
        PrintLinks(config.Node, transport);
        var allocations = AllocationWindow.Between(allocationsBefore, AllocationWindow.Now());
        var report = Report(config.Node, placement, engine, kernel, transport, arrivals, expected, posted.Sum(), postSeconds, clock.Elapsed.TotalSeconds, complete)
            with
            {
                AllocatedBytes = allocations.AllocatedBytes, Gen0 = allocations.Gen0, Gen1 = allocations.Gen1, Gen2 = allocations.Gen2,
                RuntimeSettings = NodeProcesses.RuntimeSettings(Environment.GetEnvironmentVariable),
                SendBatch = args.Rate > 0 ? args.SendBatch : null,
                FlushSends = transport.Links.Sum(l => l.Counters.FlushSends),
            };
        Console.Out.WriteLine("result " + JsonSerializer.Serialize(report, NodeConfigJsonContext.Default.NodeReport));
        if (args.Control)
            await ReadCommandAsync("stop", ct);
        return report.Complete ? 0 : 1;
    }

    /// <summary>One <c>progress</c> line: the time (Stopwatch ticks: one clock for every process of the host) and the local destinations served so far.</summary>
    private static void PrintProgress(Engine engine)
    {
        var c = engine.ReadCounters();
        Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"progress {Stopwatch.GetTimestamp()} {c.Delivered + c.Coalesced + c.ServedByHost}"));
    }

    /// <summary>How often a running node prints its links' status lines.</summary>
    private static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(2);

    private static void PrintLinks(int node, NodeTransport transport)
    {
        foreach (var link in transport.Links)
            Console.Out.WriteLine(LinkReport.StatusLine(node, link.Counters));
    }

    /// <summary>Local deliveries per (source, destination) pair from the stopped engine's log, or null when it overflowed.</summary>
    private static long[]? LocalPairs(Engine engine, int vcpus)
    {
        if (engine.DeliveryLog is not { } log || engine.ReadCounters().LogOverflow != 0)
            return null;
        var pairs = new long[vcpus * vcpus];
        foreach (ref readonly var entry in log.Entries)
        {
            if (!entry.Remote)
                pairs[entry.SourceVcpu * vcpus + entry.DestinationVcpu]++;
        }
        return pairs;
    }

    private static NodeReport Report(int node, int[] placement, Engine engine, KernelStandIn? kernel, NodeTransport transport, NodeArrivals arrivals,
        NodeExpectation expected, long posted, double postSeconds, double seconds, bool drained)
    {
        var links = transport.Links.Select(l => l.Counters).ToArray();
        var (epoch, digest) = transport.Replication.Position(); // before the counters: they count at least its writes
        var counters = engine.ReadCounters();
        // Local deliveries are logged (and counted) by the engine before vectors coalesce into descriptors; with the
        // kernel serving them, the kernel counts them per pair (and the engine must have delivered none).
        long local = kernel?.ServedTotal ?? counters.Delivered + counters.Coalesced;
        long[]? localPairs = kernel?.ServedPairs ?? LocalPairs(engine, expected.Vcpus);
        long doubled = 0, lost = 0;
        for (int s = 0; s < expected.Vcpus; s++)
        {
            for (int d = 0; d < expected.Vcpus; d++)
            {
                bool fromHere = placement[s] == node;
                if (fromHere && localPairs is null)
                    continue;
                long difference = (fromHere ? localPairs![s * expected.Vcpus + d] : arrivals.Pair(s, d)) - expected.Pair(s, d);
                doubled += Math.Max(0, difference);
                lost += Math.Max(0, -difference);
            }
        }
        if (localPairs is null)
        {
            doubled += Math.Max(0, local - expected.Local);
            lost += Math.Max(0, expected.Local - local);
        }
        doubled += Math.Max(0, counters.Forwarded - expected.Forwarded);
        lost += Math.Max(0, expected.Forwarded - counters.Forwarded);
        bool conservation = counters.ConservationHolds && counters.IpisResolved + counters.Rejected == posted;
        // Arrivals went into the engine, or into the kernel as KVM_DSM_IPI records, each exactly once.
        bool arrivalsTaken = kernel is null
            ? counters.RemoteDelivered + counters.RemoteCoalesced == arrivals.Total
            : kernel.Injected == arrivals.Total && kernel.Misinjected == 0 && counters.Delivered + counters.Coalesced == 0
              && counters.ServedByHost == expected.Local;
        return new NodeReport(node, posted, counters.IpisResolved, counters.Rejected, counters.Delivered, counters.Coalesced, counters.Forwarded,
            conservation, links.Sum(c => c.Forwarded), links.Sum(c => c.Acknowledged), links.Sum(c => c.Duplicates),
            arrivals.Total, counters.RemoteDelivered, counters.RemoteCoalesced, counters.RemoteRejected,
            expected.Local, expected.Forwarded, expected.Remote, localPairs is not null, doubled, lost, arrivals.Misrouted, links.Sum(c => c.Connections),
            postSeconds, seconds, arrivals.LatencyNs(),
            drained && conservation && doubled == 0 && lost == 0 && arrivals.Misrouted == 0 && arrivalsTaken)
        {
            ServedByHost = counters.ServedByHost,
            Links = [.. links.Select(LinkReport.Of)],
            TopologyWrites = counters.TopologyWrites,
            PeerTopologyWrites = counters.PeerTopologyWrites,
            TopologyEpoch = epoch,
            TopologyDigest = digest,
            Assist = AssistReported(engine),
            AssistedPasses = counters.AssistedPasses,
            ThinPassWaits = ThinPassWaitsReported(engine, counters),
            PipelineCpus = engine.Options.PipelineCpus,
        };
    }

    /// <summary>The engine's thin-pass waits, or null in inline threading (no gathering thread to wait).</summary>
    internal static long? ThinPassWaitsReported(Engine engine, EngineCounters counters)
        => engine.Options.ThreadingMode == ThreadingMode.Inline ? null : counters.ThinPassWaits;

    /// <summary>Whether the engine ran with the idle assist (<see cref="EngineOptions.AssistIdlePipeline"/>), as its options say; null outside fused threading.</summary>
    internal static bool? AssistReported(Engine engine)
        => engine.Options.ThreadingMode == ThreadingMode.Fused ? engine.Options.AssistIdlePipeline : null;

    private static bool TryParseCounts(string line, int vcpus, out long[] counts)
    {
        var parts = line["expect".Length..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        counts = new long[vcpus];
        if (parts.Length != vcpus)
            return false;
        for (int i = 0; i < vcpus; i++)
        {
            if (!long.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out counts[i]))
                return false;
        }
        return true;
    }

    internal static int Fail(string sentence)
    {
        Console.Error.WriteLine(sentence);
        return 2;
    }

    /// <summary>
    /// Reads lines until one starting with <paramref name="command"/> and returns it; end of input counts as
    /// <c>stop</c> (the orchestrator went away) and is null for anything else.
    /// </summary>
    internal static async Task<string?> ReadCommandAsync(string command, CancellationToken ct)
    {
        while (await Console.In.ReadLineAsync(ct) is { } line)
        {
            if (line.Trim().StartsWith(command, StringComparison.Ordinal))
                return line.Trim();
        }
        return command == "stop" ? command : null;
    }

    internal static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (ct.IsCancellationRequested || (timeout != Timeout.InfiniteTimeSpan && clock.Elapsed > timeout))
                return false;
            await Task.Delay(2, CancellationToken.None);
        }
        return true;
    }
}
