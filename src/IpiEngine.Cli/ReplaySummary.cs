using System.Globalization;
using IpiEngine.Trace;
using Spectre.Console;

namespace IpiEngine.Cli;

/// <summary>The replay's summary table (for stderr): rows, IPIs by delivery mode, rejections by reason, speed.</summary>
internal static class ReplaySummary
{
    public static void Write(TextWriter writer, ReplayCounters counters, TimeSpan elapsed)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        CultureInfo invariant = CultureInfo.InvariantCulture;
        var table = new Table().AddColumn("replay").AddColumn(new TableColumn("count").RightAligned());
        table.AddRow("exit rows", Number(counters.Records));
        table.AddRow("ICR2 latches", Number(counters.Latched));
        table.AddRow("topology writes", Number(counters.TopologyWrites));
        table.AddRow("IPIs fired", Number(counters.Fired));
        foreach (KeyValuePair<string, long> mode in counters.IpisByMode.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            table.AddRow("  " + Markup.Escape(mode.Key), Number(mode.Value));
        }

        table.AddRow("destinations reached", Number(counters.Destinations));
        table.AddRow("rejected", Number(counters.Rejected));
        foreach (var reason in counters.RejectedByReason.OrderBy(pair => pair.Key))
        {
            table.AddRow("  " + reason.Key.ToString(), Number(reason.Value));
        }

        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        table.AddRow("elapsed", elapsed.TotalMilliseconds.ToString("0.000", invariant) + " ms");
        table.AddRow("rows/s", Number((long)(counters.Records / seconds)));
        console.Write(table);

        string Number(long value) => value.ToString("N0", invariant);
    }
}
