using System.Globalization;
using Spectre.Console;

namespace IpiEngine.Cli.Run;

/// <summary>Progress as a live Spectre.Console table redrawn in place (terminals only).</summary>
internal sealed class LiveRunDisplay : IRunDisplay
{
    private readonly IAnsiConsole console;
    private readonly string title;

    /// <summary>Draws on <paramref name="console"/> under <paramref name="title"/>.</summary>
    public LiveRunDisplay(IAnsiConsole console, string title)
    {
        this.console = console;
        this.title = title;
    }

    /// <inheritdoc/>
    public void Show(Func<RunProgress?> poll)
    {
        ArgumentNullException.ThrowIfNull(poll);
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title))
            .AddColumn("elapsed").AddColumn("phase").AddColumn(new TableColumn("IPIs posted").RightAligned())
            .AddColumn(new TableColumn("posted/s").RightAligned()).AddColumn(new TableColumn("delivered/s").RightAligned())
            .AddColumn("ring occupancy").AddColumn(new TableColumn("rejected").RightAligned());
        table.AddRow("0.0s", "starting", "0", "-", "-", "-", "0");
        console.Live(table).AutoClear(false).Start(context =>
        {
            while (poll() is { } p)
            {
                var bar = new string('#', (int)Math.Round(Math.Clamp(p.RingOccupancy, 0, 1) * 20)).PadRight(20, '.');
                table.UpdateCell(0, 0, string.Create(CultureInfo.InvariantCulture, $"{p.Elapsed.TotalSeconds:F1}s"));
                table.UpdateCell(0, 1, p.Phase);
                table.UpdateCell(0, 2, p.Posted.ToString("N0", CultureInfo.InvariantCulture));
                table.UpdateCell(0, 3, PlainRunDisplay.Rate(p.PostedPerSecond));
                table.UpdateCell(0, 4, PlainRunDisplay.Rate(p.DeliveredPerSecond));
                table.UpdateCell(0, 5, string.Create(CultureInfo.InvariantCulture, $"{bar} {p.RingOccupancy,4:P0}"));
                table.UpdateCell(0, 6, p.Rejected.ToString("N0", CultureInfo.InvariantCulture));
                context.Refresh();
            }
        });
    }
}
