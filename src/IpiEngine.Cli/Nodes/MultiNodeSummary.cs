using System.Globalization;
using Spectre.Console;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The multi-node run's table: one column per node with its conservation counters (engine, links, check), the
/// cross-node latency percentiles, and the overall cross-node IPIs/s under it.
/// </summary>
public static class MultiNodeSummary
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
        Row("posted (engine)", r => Number(r.Posted));
        Row("forwarded (engine)", r => Number(r.EngineForwarded));
        Row("engine conservation", r => r.EngineConservationHolds ? "holds" : "BROKEN");
        Row("sent over links", r => Number(r.Forwarded));
        Row("acknowledged by peers", r => Number(r.Acknowledged));
        Row("received, applied once", r => Number(r.Applied));
        Row("resends discarded", r => Number(r.DuplicatesDiscarded));
        Row("delivered into descriptors", r => Number(r.RemoteDelivered));
        Row("coalesced (vector pending)", r => Number(r.RemoteCoalesced));
        Row("rejected on arrival", r => Number(r.RemoteRejected));
        Row("expected from peers", r => Number(r.Expected));
        Row("in order, exactly once", r => Number(r.InOrder));
        Row("doubled / lost / misrouted", r => $"{Number(r.Repeated)} / {Number(r.Skipped)} / {Number(r.Misrouted)}");
        Row("connections", r => Number(r.Connections));
        Row("latency p50 (us)", r => r.P50Microseconds.ToString("0.0", invariant));
        Row("latency p99 (us)", r => r.P99Microseconds.ToString("0.0", invariant));
        Row("seconds", r => r.Seconds.ToString("0.000", invariant));
        console.Write(table);
        console.WriteLine($"cross-node IPIs/s: {result.CrossNodeIpisPerSecond.ToString("N0", invariant)}; {(result.Complete ? "every IPI delivered exactly once" : "INCOMPLETE")}");

        void Row(string label, Func<NodeReport, string> cell) => table.AddRow([label, .. result.Nodes.Select(cell)]);
        string Number(long value) => value.ToString("N0", invariant);
    }
}
