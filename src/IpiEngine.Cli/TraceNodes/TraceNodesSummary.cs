using System.Globalization;
using IpiEngine.Cli.Nodes;
using Spectre.Console;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>The table of a trace replayed over nodes (one column per node), and its JSON summary.</summary>
internal static class TraceNodesSummary
{
    /// <summary>Writes the table for <paramref name="result"/> (no colours, no terminal needed).</summary>
    public static void Write(TextWriter writer, TraceNodesResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Interactive = InteractionSupport.No });
        var invariant = CultureInfo.InvariantCulture;
        var table = new Table().AddColumn("node");
        foreach (var node in result.Nodes)
        {
            table.AddColumn(new TableColumn(node.Node.ToString(invariant)).RightAligned());
        }

        Row("records posted (topology rows included)", r => Number(r.Records));
        Row("IPIs / rejected", r => $"{Number(r.Ipis)} / {Number(r.Rejected)}");
        Row("topology writes applied", r => Number(r.TopologyWrites));
        Row("local delivered + coalesced (engine)", r => $"{Number(r.Delivered)} + {Number(r.Coalesced)}");
        Row("remote delivered + coalesced (engine)", r => $"{Number(r.RemoteDelivered)} + {Number(r.RemoteCoalesced)}");
        Row("served by host (kernel)", r => Number(r.ServedByHost));
        Row("forwarded", r => Number(r.Forwarded));
        Row("received / expected", r => $"{Number(r.Received)} / {Number(r.ExpectedReceived)}");
        Row("injected (KVM_DSM_IPI)", r => Number(r.Injected));
        Row("doubled / lost / misrouted", r => $"{Number(result.Merge.Doubled[r.Node])} / {Number(result.Merge.Lost[r.Node])} / {Number(r.Misrouted)}");
        Row("engine conservation", r => r.ConservationHeld ? "holds" : "BROKEN");
        Row("cross-node p50 / p99 (us)", r => $"{r.P50Microseconds.ToString("0.0", invariant)} / {r.P99Microseconds.ToString("0.0", invariant)}");
        console.Write(table);
        foreach (var node in result.Nodes)
        {
            foreach (var problem in node.Problems)
            {
                console.WriteLine($"node {node.Node}: {problem}");
            }
        }

        if (result.Merge.Unknown > 0)
        {
            console.WriteLine($"{Number(result.Merge.Unknown)} deliveries belong to no firing write of the trace");
        }

        console.WriteLine(result.Exact ? "every IPI delivered exactly once" : "NOT exactly once");

        void Row(string label, Func<TraceNodeReport, string> cell) => table.AddRow([label, .. result.Nodes.Select(cell)]);
        string Number(long value) => value.ToString("N0", invariant);
    }

    /// <summary>The run as the JSON summary of <c>ipi run --nodes --trace</c>.</summary>
    public static NodesRunReport ToReport(TraceNodesResult result, string traceName, string threading, string localTargets, bool? matchesReference, string? referencePath)
    {
        ArgumentNullException.ThrowIfNull(result);
        var nodes = result.Nodes;
        long served = nodes.Sum(r => r.Delivered + r.Coalesced + r.ServedByHost + r.Received); // arrivals: into an engine or a kernel
        return new NodesRunReport
        {
            Mode = "nodes-trace",
            NodeCount = nodes.Count,
            LocalTargets = localTargets,
            Threading = threading,
            Vcpus = result.Vcpus,
            Topology = "from the trace",
            Workload = traceName,
            DurationSeconds = result.Seconds,
            Posted = nodes.Sum(r => r.Ipis),
            Delivered = nodes.Sum(r => r.Delivered + r.RemoteDelivered),
            Coalesced = nodes.Sum(r => r.Coalesced + r.RemoteCoalesced),
            Rejected = nodes.Sum(r => r.Rejected),
            Forwarded = nodes.Sum(r => r.Forwarded),
            Received = nodes.Sum(r => r.Received),
            ServedByHost = nodes.Sum(r => r.ServedByHost),
            IpisPerSecond = result.Seconds > 0 ? served / result.Seconds : 0,
            LatencyNs = new CrossNodeLatency(MultiNodeResult.Nanoseconds(nodes.Max(r => r.P50Microseconds)), MultiNodeResult.Nanoseconds(nodes.Max(r => r.P99Microseconds))),
            AllocatedBytes = nodes.Sum(r => r.AllocatedBytes),
            GcCollections = new Run.GcCounts(nodes.Sum(r => r.Gen0), nodes.Sum(r => r.Gen1), nodes.Sum(r => r.Gen2)),
            ConservationHeld = nodes.All(r => r.ConservationHeld),
            ExactlyOnce = result.Exact,
            MatchesReference = matchesReference,
            ReferencePath = referencePath,
            Nodes = [.. nodes.Select(r => new NodeSummary(r.Node, r.Ipis, r.Ipis - r.Rejected, r.Rejected, r.Delivered + r.RemoteDelivered, r.Coalesced + r.RemoteCoalesced, r.Forwarded, r.ServedByHost,
                r.Received, result.Merge.Doubled[r.Node], result.Merge.Lost[r.Node], r.Misrouted, r.ConservationHeld,
                new CrossNodeLatency(MultiNodeResult.Nanoseconds(r.P50Microseconds), MultiNodeResult.Nanoseconds(r.P99Microseconds)), r.AllocatedBytes))],
        };
    }
}
