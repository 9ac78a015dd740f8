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
        Row("delivered with another mode or vector", r => Number(result.Merge.Mismatched[r.Node]));
        Row("engine conservation", r => r.ConservationHeld ? "holds" : "BROKEN");
        if (result.Nodes.Any(r => r.Assist is not null))
        {
            Row("assist / assisted passes", r => r.Assist is { } on ? $"{(on ? "on" : "off")} / {Number(r.AssistedPasses)}" : "-");
        }

        if (result.Nodes.Any(r => r.ThinPassWaits is not null))
        {
            Row("thin-pass waits", r => r.ThinPassWaits is { } waits ? Number(waits) : "-"); // per-stage too, as MultiNodeSummary prints it
        }

        Row("cross-node p50 / p99 (us)", r => $"{r.LatencyNs.Micros(r.LatencyNs.P50)} / {r.LatencyNs.Micros(r.LatencyNs.P99)}");
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

        console.WriteLine(MultiNodeSummary.RatesText(NodeRates.Of(Parts(result), result.Seconds)) + string.Create(invariant, $" over {result.Seconds:0.000} s"));
        console.WriteLine(result.Exact ? "every IPI delivered exactly once" : "NOT exactly once");

        void Row(string label, Func<TraceNodeReport, string> cell) => table.AddRow([label, .. result.Nodes.Select(cell)]);
        string Number(long value) => value.ToString("N0", invariant);
    }

    /// <summary>The run as the JSON summary of <c>ipi run --nodes --trace</c>.</summary>
    public static NodesRunReport ToReport(TraceNodesResult result, string traceName, string threading, bool? assist, string localTargets, bool? matchesReference, string? referencePath)
    {
        ArgumentNullException.ThrowIfNull(result);
        return NodesRunReport.Build("nodes-trace", localTargets, threading, assist, result.Vcpus, "from the trace", traceName, result.Seconds, result.Exact, Parts(result))
            with { MatchesReference = matchesReference, ReferencePath = referencePath };
    }

    private static NodePart[] Parts(TraceNodesResult result) =>
        [.. result.Nodes.Select(r => new NodePart(new NodeSummary(r.Node, r.Ipis, r.Ipis - r.Rejected, r.Rejected, r.Delivered + r.RemoteDelivered,
            r.Coalesced + r.RemoteCoalesced, r.Forwarded, r.ServedByHost, r.Received, result.Merge.Doubled[r.Node], result.Merge.Lost[r.Node], r.Misrouted,
            r.ConservationHeld, r.LatencyNs, r.AllocatedBytes) { Mismatched = result.Merge.Mismatched[r.Node], Assist = r.Assist, AssistedPasses = r.Assist is null ? null : r.AssistedPasses, ThinPassWaits = r.ThinPassWaits, PipelineCpus = r.PipelineCpus, RuntimeSettings = r.RuntimeSettings },
            r.Delivered + r.Coalesced + r.ServedByHost, new Run.GcCounts(r.Gen0, r.Gen1, r.Gen2)))];
}
