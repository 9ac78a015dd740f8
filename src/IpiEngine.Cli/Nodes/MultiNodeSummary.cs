using System.Globalization;
using Spectre.Console;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The multi-node run's table: one column per node with its conservation counters (engine, links, check), the
/// cross-node latency percentiles, and the overall cross-node IPIs/s under it.
/// </summary>
internal static class MultiNodeSummary
{
    /// <summary>Writes the table for <paramref name="result"/> to <paramref name="writer"/> (no colours, no terminal needed).</summary>
    public static void Write(TextWriter writer, MultiNodeResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        var invariant = CultureInfo.InvariantCulture;
        var table = new Table().AddColumn("node");
        foreach (var node in result.Nodes)
            table.AddColumn(new TableColumn(node.Node.ToString(invariant)).RightAligned());
        Row("IPIs posted", r => Number(r.Posted));
        Row("resolved / rejected", r => $"{Number(r.Resolved)} / {Number(r.Rejected)}");
        Row("local delivered + coalesced", r => $"{Number(r.LocalDelivered)} + {Number(r.LocalCoalesced)}");
        Row("served by host (kernel)", r => Number(r.ServedByHost));
        Row("expected local", r => Number(r.ExpectedLocal));
        Row("local checked", r => r.LocalPairsChecked ? "per pair" : "in aggregate");
        Row("forwarded (engine)", r => Number(r.EngineForwarded));
        Row("expected forwarded", r => Number(r.ExpectedForwarded));
        Row("engine conservation", r => r.EngineConservationHolds ? "holds" : "BROKEN");
        if (result.Nodes.Any(r => r.Assist is not null))
            Row("assist / assisted passes", r => r.Assist is { } on ? $"{(on ? "on" : "off")} / {Number(r.AssistedPasses)}" : "-");
        if (result.Nodes.Any(r => r.ThinPassWaits is not null))
            Row("thin-pass waits", r => r.ThinPassWaits is { } waits ? Number(waits) : "-");
        if (result.Nodes.Any(r => r.SendBatch is not null))
            Row("send batch / flush sends", r => r.SendBatch is { } on ? $"{(on ? "on" : "off")} / {Number(r.FlushSends)}" : "-");
        Row("sent / acknowledged (links)", r => $"{Number(r.Forwarded)} / {Number(r.Acknowledged)}");
        Row("resends discarded", r => Number(r.DuplicatesDiscarded));
        Row("received remote", r => Number(r.Received));
        Row("expected remote", r => Number(r.ExpectedRemote));
        Row("remote delivered + coalesced", r => $"{Number(r.RemoteDelivered)} + {Number(r.RemoteCoalesced)}");
        Row("rejected on arrival", r => Number(r.RemoteRejected));
        Row("doubled / lost / misrouted", r => $"{Number(r.Doubled)} / {Number(r.Lost)} / {Number(r.Misrouted)}");
        Row("connections", r => Number(r.Connections));
        Row("cross-node p50 (us)", r => r.LatencyNs.Micros(r.LatencyNs.P50));
        Row("cross-node p99 (us)", r => r.LatencyNs.Micros(r.LatencyNs.P99));
        Row("seconds (posting / all)", r => $"{r.PostSeconds.ToString("0.000", invariant)} / {r.Seconds.ToString("0.000", invariant)}");
        console.Write(table);
        var worst = Run.LatencySummary.Worst(result.Nodes.Select(r => r.LatencyNs));
        // Three short lines rather than one: the console wraps at its width, which would split a phrase a reader greps for.
        console.WriteLine(RatesText(result.Rates) + string.Create(invariant, $" over {result.Seconds:0.000} s"));
        console.WriteLine(worst.Samples == 0 ? "no cross-node latency sample" : $"cross-node latency p50 {worst.Micros(worst.P50)} us, p99 {worst.Micros(worst.P99)} us (worst node)");
        console.WriteLine(result.Complete ? "every IPI delivered exactly once" : "INCOMPLETE");

        void Row(string label, Func<NodeReport, string> cell) => table.AddRow([label, .. result.Nodes.Select(cell)]);
        string Number(long value) => value.ToString("N0", invariant);
    }

    /// <summary><c>cross-node IPIs/s: 7,490,000; local IPIs/s: 7,500,000</c>: the rate line under both nodes tables (generated and trace runs).</summary>
    public static string RatesText(NodeRates rates) => string.Create(CultureInfo.InvariantCulture,
        $"cross-node IPIs/s: {rates.CrossNode:N0}; local IPIs/s: {rates.Local:N0}");
}
