namespace IpiEngine.Cli.Nodes;

/// <summary>
/// Runs an N-node VM on loopback as N separate <c>ipi node --control</c> processes: writes a key and one config per
/// node into a temporary folder, starts the processes, waits until every node is ready, starts the workload on all at
/// once, collects each node's <see cref="NodeReport"/>, then stops them (killing, by process id, any that does not leave).
/// This is what <c>ipi run --nodes N</c> calls.
/// </summary>
internal sealed class MultiNodeRun
{
    /// <summary>Number of nodes (processes), at least 2.</summary>
    public required int Nodes { get; init; }
    /// <summary>vCPUs of the whole VM, at least <see cref="Nodes"/> (placement: vCPU v on node v % N).</summary>
    public int Vcpus { get; init; } = 4;
    /// <summary>The <c>--topology</c> name (every kind).</summary>
    public string Topology { get; init; } = "x2apic-cluster";
    /// <summary>The <c>--workload</c> mix.</summary>
    public string Workload { get; init; } = "linux-mix";
    /// <summary>The workload seed, the same on every node.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>IPIs each vCPU posts; 0 to post for <see cref="Duration"/> instead.</summary>
    public long IpisPerVcpu { get; init; } = 1000;
    /// <summary>How long each node posts when <see cref="IpisPerVcpu"/> is 0.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>IPIs per second each node posts (0: as fast as possible). Pace it to read latency rather than queueing.</summary>
    public long Rate { get; init; }
    /// <summary>With a <see cref="Rate"/>: each node's pacing step in microseconds (<c>ipi node --pace-step-us</c>, <see cref="PacingClock"/>).</summary>
    public int PaceStepMicroseconds { get; init; } = PacingClock.DefaultStepMicroseconds;

    /// <summary>With a <see cref="Rate"/>: whether each node's posting thread holds a send batch (<c>ipi node --send-batch</c>, <see cref="IpiEngine.Transport.SendBatch"/>).</summary>
    public bool SendBatch { get; init; } = true;
    /// <summary>IPIs each vCPU posts per turn: 1 with <c>Post</c>, more with one <c>PostBatch</c> (<c>ipi node --batch</c>).</summary>
    public int Batch { get; init; } = 1;
    /// <summary>The engines' threading: <c>fused</c>, <c>per-stage</c> or <c>inline</c>.</summary>
    public string Threading { get; init; } = "fused";
    /// <summary>With fused threading, every node engine's idle assist (<c>ipi node --assist</c>); ignored otherwise.</summary>
    public bool Assist { get; init; } = true;
    /// <summary>Each node's pipeline CPUs (<c>ipi node --pipeline-cpus</c>, indexed by node); null: the OS places every node's threads.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? PipelineCpus { get; init; }
    /// <summary>Who serves each node's own targets: <c>engine</c> or <c>kernel</c> (a stand-in for KVM on each node).</summary>
    public string LocalTargets { get; init; } = "engine";
    /// <summary>How long each node warms up on a throw-away VM of its own before it says ready (<see cref="NodeWarmUp"/>); zero: not at all.</summary>
    public TimeSpan Warmup { get; init; }
    /// <summary>Bound on each phase (start, run, stop).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>The <c>ipi.dll</c> to start; by default the one this type lives in.</summary>
    public string IpiDll { get; init; } = typeof(MultiNodeRun).Assembly.Location;
    /// <summary>Receives the nodes' standard error lines (link events), prefixed with the node id.</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Each vCPU also writes its SVR (replicated, routing unchanged) before every N-th IPI; 0 never (<c>--svr-write-every</c>).</summary>
    public int SvrWriteEvery { get; init; }
    /// <summary>How often each node reports its local progress while posting (<see cref="MultiNodeResult.Progress"/>); zero: never.</summary>
    public TimeSpan ProgressInterval { get; init; }
    /// <summary>Runs once every node was told to go, alongside the run, with the nodes' process ids (a test stops one, say); the run waits for it.</summary>
    public Func<IReadOnlyList<int>, CancellationToken, Task>? WhileRunning { get; init; }

    /// <summary>
    /// The whole of <c>ipi run --nodes N</c> after option parsing: runs the VM, writes the summary table to
    /// <paramref name="output"/>, and returns the exit code (0: every IPI delivered exactly once; 1: incomplete;
    /// 2: a node could not be started or did not answer, said in one sentence on <paramref name="error"/>).
    /// </summary>
    public async Task<int> RunAndReportAsync(TextWriter output, TextWriter error, CancellationToken ct = default)
        => (await RunAndSummarizeAsync(output, error, ct)).ExitCode;

    /// <summary>As <see cref="RunAndReportAsync"/>, also returning the result (null when the run could not be made).</summary>
    public async Task<(int ExitCode, MultiNodeResult? Result)> RunAndSummarizeAsync(TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        MultiNodeResult result;
        try
        {
            result = await RunAsync(ct);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or System.ComponentModel.Win32Exception)
        {
            await error.WriteLineAsync($"ipi run --nodes: {e.Message}");
            return (2, null);
        }
        MultiNodeSummary.Write(output, result);
        return (result.Complete ? 0 : 1, result);
    }

    /// <summary>Runs the VM once; throws <see cref="InvalidOperationException"/> with one sentence when a node fails to start or answer.</summary>
    public async Task<MultiNodeResult> RunAsync(CancellationToken ct = default)
    {
        if (Nodes < 2 || Vcpus < Nodes || IpisPerVcpu < 0 || Duration <= TimeSpan.Zero || Warmup < TimeSpan.Zero)
            throw new ArgumentException("a multi-node run needs at least 2 nodes, at least 1 vCPU per node and a non-negative workload");
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        await using var nodes = await NodeProcesses.StartAsync(Nodes, Vcpus, LocalTargets, (node, _) => ["--threading", Threading, "--topology", Topology, "--workload", Workload,
            "--seed", Seed.ToString(invariant), "--ipis-per-vcpu", IpisPerVcpu.ToString(invariant),
            "--duration-ms", ((long)Duration.TotalMilliseconds).ToString(invariant),
            "--rate", Rate.ToString(invariant), .. PaceStepArguments(), "--warmup-ms", ((long)Warmup.TotalMilliseconds).ToString(invariant), "--timeout", ((int)Timeout.TotalSeconds).ToString(invariant),
            "--svr-write-every", SvrWriteEvery.ToString(invariant), "--batch", Batch.ToString(invariant), "--progress-ms", ((int)ProgressInterval.TotalMilliseconds).ToString(invariant),
            .. NodeProcesses.AssistArguments(Threading, Assist), .. Run.PipelineCpuList.NodeArguments(PipelineCpus, node)], IpiDll, Timeout + NodeProcesses.ReportMargin, Log, ct);
        await nodes.ExpectFromAllAsync("ready", ct);
        await nodes.SendAllAsync("go", ct);
        if (WhileRunning is not null)
            await WhileRunning(nodes.ProcessIds, ct);
        // Each node says what its vCPUs posted; every node needs all of it to compute what it must receive.
        var posted = new long[Vcpus];
        foreach (var (line, node) in (await nodes.ExpectFromAllAsync("posted ", ct)).Select((l, i) => (l, i)))
        {
            var counts = line["posted ".Length..].Split(',');
            if (counts.Length != Vcpus)
                throw new InvalidOperationException($"node {node} reported {counts.Length} vCPU counts, not {Vcpus}.");
            for (int v = 0; v < Vcpus; v++)
            {
                if (!long.TryParse(counts[v], System.Globalization.NumberStyles.None, invariant, out long count))
                    throw new InvalidOperationException($"node {node} reported vCPU {v}'s posts as '{counts[v]}', not a count.");
                posted[v] += count;
            }
        }
        await nodes.SendAllAsync("expect " + string.Join(',', posted), ct);
        await nodes.ExpectFromAllAsync("drained", ct); // every node drained before any counts (NodeCommand)
        await nodes.SendAllAsync("finish", ct);
        var reports = new List<NodeReport>();
        foreach (var (line, node) in (await nodes.ExpectFromAllAsync("result ", ct)).Select((l, i) => (l, i)))
        {
            reports.Add(NodeProcesses.ParseResult(node, line, NodeConfigJsonContext.Default.NodeReport));
        }
        await nodes.StopAsync();
        return new MultiNodeResult(reports, reports.All(r => r.Complete))
        {
            Progress = [.. Enumerable.Range(0, Nodes).Select(n => nodes.Progress(n))],
        };
    }

    /// <summary>The step and the send batch go to the nodes only with a rate: an unpaced node refuses what it would ignore.</summary>
    private string[] PaceStepArguments()
        => Rate > 0 ? ["--pace-step-us", PaceStepMicroseconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--send-batch", SendBatch ? "on" : "off"] : [];
}

/// <summary>The outcome of a <see cref="MultiNodeRun"/>: every node's report, and whether every IPI arrived exactly once.</summary>
internal sealed record MultiNodeResult(IReadOnlyList<NodeReport> Nodes, bool Complete)
{
    /// <summary>Each node's progress samples while posting (empty without <see cref="MultiNodeRun.ProgressInterval"/>).</summary>
    public IReadOnlyList<IReadOnlyList<ProgressSample>> Progress { get; init; } = [];

    /// <summary>The run's length: the longest node's.</summary>
    public double Seconds => Nodes.Max(r => r.Seconds);

    /// <summary>The cross-node and local delivery rates, as the table prints them and the JSON carries them.</summary>
    public NodeRates Rates => NodeRates.Of(Parts(), Seconds);

    /// <summary>What arrived from other nodes per second.</summary>
    public double CrossNodeIpisPerSecond => Rates.CrossNode;

    /// <summary>The run as the JSON summary of <c>ipi run --nodes</c>.</summary>
    public NodesRunReport ToReport(string threading, bool? assist, string localTargets, int vcpus, string topology, string workload)
        => NodesRunReport.Build("nodes", localTargets, threading, assist, vcpus, topology, workload, Seconds, Complete, Parts());

    private NodePart[] Parts() =>
        [.. Nodes.Select(r => new NodePart(new NodeSummary(r.Node, r.Posted, r.Resolved, r.Rejected, r.LocalDelivered + r.RemoteDelivered,
            r.LocalCoalesced + r.RemoteCoalesced, r.EngineForwarded, r.ServedByHost, r.Received, r.Doubled, r.Lost, r.Misrouted,
            r.EngineConservationHolds, r.LatencyNs, r.AllocatedBytes) { Assist = r.Assist, AssistedPasses = r.Assist is null ? null : r.AssistedPasses, ThinPassWaits = r.ThinPassWaits, PipelineCpus = r.PipelineCpus, RuntimeSettings = r.RuntimeSettings,
                SendBatch = r.SendBatch, FlushSends = r.SendBatch == true ? r.FlushSends : null },
            r.LocalDelivered + r.LocalCoalesced + r.ServedByHost, new Run.GcCounts(r.Gen0, r.Gen1, r.Gen2)))];
}
