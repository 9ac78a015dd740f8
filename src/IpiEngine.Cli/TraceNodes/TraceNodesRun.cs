using System.Diagnostics;
using System.Globalization;
using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.Run;
using IpiEngine.Trace;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// <c>ipi run --nodes N --trace NAME</c>: replays a recorded trace over N <c>ipi node</c> processes on loopback (vCPU v
/// on node v % N, <see cref="TraceNodeProcess"/>), passes every node through each run of topology rows together
/// (<c>at K</c> / <c>pass K</c>), then merges the nodes' deliveries into <c>deliveries.csv</c> rows
/// (<see cref="TraceNodesMerge"/>).
/// </summary>
internal sealed class TraceNodesRun
{
    /// <summary>Number of nodes (processes), at least 2 and at most the trace's vCPUs.</summary>
    public required int Nodes { get; init; }
    /// <summary>The trace's <c>vcpus.csv</c>.</summary>
    public required string VcpusPath { get; init; }
    /// <summary>The trace's <c>exits.csv</c>.</summary>
    public required string ExitsPath { get; init; }
    /// <summary>The engines' threading: <c>fused</c>, <c>per-stage</c> or <c>inline</c>.</summary>
    public string Threading { get; init; } = "fused";
    /// <summary>With fused threading, every node engine's idle assist (<c>ipi node --assist</c>); ignored otherwise.</summary>
    public bool Assist { get; init; } = true;
    /// <summary>Each node's pipeline CPUs (<c>ipi node --pipeline-cpus</c>, indexed by node); null: the OS places every node's threads.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? PipelineCpus { get; init; }
    /// <summary>Who serves each node's targets.</summary>
    public LocalTargets LocalTargets { get; init; } = LocalTargets.Engine;
    /// <summary>Each node's bound on each of its waits (start, each rendezvous, the drain); this run waits <see cref="NodeProcesses.ReportMargin"/> longer for a node's line.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>The <c>ipi.dll</c> to start; by default the one this type lives in.</summary>
    public string IpiDll { get; init; } = typeof(TraceNodesRun).Assembly.Location;
    /// <summary>Receives the nodes' standard error lines, prefixed with the node id.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Runs the replay. Throws <see cref="TraceFormatException"/> for a bad trace, <see cref="ArgumentException"/> when
    /// the trace has fewer vCPUs than nodes, <see cref="InvalidOperationException"/> when a node fails or does not answer.
    /// </summary>
    public async Task<TraceNodesResult> RunAsync(CancellationToken ct = default)
    {
        uint[] ids = TraceReader.ReadVcpus(VcpusPath);
        ExitRecord[] exits = TraceReader.ReadExits(ExitsPath, ids.Length);
        if (ids.Length < Nodes)
        {
            throw new ArgumentException($"the trace has {ids.Length} vCPUs, fewer than the {Nodes} nodes (each node holds at least one).");
        }

        ReplayResult sequential = SequentialReplay.Run(ids, exits);
        int rowRuns = TracePhase.Split(exits).Count(p => p.TopologyWrites.Count > 0);
        string localTargets = LocalTargets == LocalTargets.Kernel ? "kernel" : "engine";
        await using var nodes = await NodeProcesses.StartAsync(Nodes, ids.Length, localTargets, (node, folder) =>
            ["--trace-vcpus", Path.GetFullPath(VcpusPath), "--trace-exits", Path.GetFullPath(ExitsPath), "--threading", Threading,
             "--deliveries", DeliveriesFile(folder, node), "--timeout", ((int)Timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture),
             .. NodeProcesses.AssistArguments(Threading, Assist), .. PipelineCpuList.NodeArguments(PipelineCpus, node)],
            IpiDll, Timeout + NodeProcesses.ReportMargin, Log, ct);
        await nodes.ExpectFromAllAsync("ready", ct);
        await nodes.SendAllAsync("go", ct);
        var clock = Stopwatch.StartNew();
        for (int k = 1; k <= rowRuns; k++)
        {
            // Lines come in order, so the first line starting "at K" is "at K" itself.
            await nodes.ExpectFromAllAsync(string.Create(CultureInfo.InvariantCulture, $"at {k}"), ct);
            await nodes.SendAllAsync(string.Create(CultureInfo.InvariantCulture, $"pass {k}"), ct);
        }

        // Every node drained (its links acknowledged all it forwarded, and it took all it expected) before any counts: a
        // copy a resend applied late still lands before its sender saw the acknowledgement, so no node reports early.
        await nodes.ExpectFromAllAsync("drained", ct);
        await nodes.SendAllAsync("finish", ct);
        var reports = new List<TraceNodeReport>();
        foreach (var (line, node) in (await nodes.ExpectFromAllAsync("result ", ct)).Select((l, i) => (l, i)))
        {
            reports.Add(NodeProcesses.ParseResult(node, line, TraceNodeJsonContext.Default.TraceNodeReport));
        }

        double seconds = clock.Elapsed.TotalSeconds;
        int[] placement = [.. Enumerable.Range(0, ids.Length).Select(v => v % Nodes)];
        var merge = TraceNodesMerge.Merge(sequential, placement, Enumerable.Range(0, Nodes).SelectMany(node => ReadDeliveries(nodes.Folder, node)));
        await nodes.StopAsync();
        return new TraceNodesResult(reports, merge, sequential, ids.Length, exits.Length, seconds);
    }

    private static string DeliveriesFile(string folder, int node) => Path.Combine(folder, $"node{node}.deliveries.csv");

    /// <summary>Node <paramref name="node"/>'s deliveries file; <see cref="InvalidOperationException"/> (one sentence) when it is missing or malformed.</summary>
    private static List<NodeDelivery> ReadDeliveries(string folder, int node)
    {
        try
        {
            return NodeDelivery.Read(DeliveriesFile(folder, node));
        }
        catch (TraceFormatException e)
        {
            throw new InvalidOperationException($"node {node} wrote deliveries that cannot be read: {e.Message}.", e);
        }
    }
}

/// <summary>What a trace replayed over nodes did: each node's report, the merged deliveries, the sequential reference.</summary>
internal sealed record TraceNodesResult(IReadOnlyList<TraceNodeReport> Nodes, TraceNodesMerge Merge, ReplayResult Sequential, int Vcpus, int Records, double Seconds)
{
    /// <summary>
    /// Every destination exactly once, every node's checks held, and the VM's links carried each forwarded delivery to
    /// exactly one arrival: what the nodes forwarded is what arrived, and each node took what it expected.
    /// </summary>
    public bool Exact => Merge.ExactlyOnce && Nodes.All(n => n.Problems.Length == 0 && n.Received == n.ExpectedReceived)
        && Nodes.Sum(n => n.Forwarded) == Nodes.Sum(n => n.Received);
}
