using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using Spectre.Console;

namespace IpiEngine.Cli;

/// <summary>Prints a comparison as text (Spectre.Console tables), Markdown or JSON.</summary>
internal static class PerfComparisonPrinter
{
    /// <summary>The accepted <c>--format</c> values.</summary>
    public static readonly string[] Formats = ["text", "markdown", "json"];

    /// <summary>Prints <paramref name="report"/> in <paramref name="format"/>.</summary>
    public static void Print(ComparisonReport report, string format, TextWriter output)
    {
        switch (format)
        {
            case "json":
                output.WriteLine(ComparisonJson.Serialize(report));
                break;
            case "markdown":
                ComparisonMarkdown.Write(report, output);
                break;
            default:
                PrintText(report, output);
                break;
        }
    }

    /// <summary>Checks a <c>--format</c> value against <paramref name="allowed"/> (default: <see cref="Formats"/>).</summary>
    public static string Validate(string? format, IReadOnlyList<string>? allowed = null)
    {
        allowed ??= Formats;
        return format is not null && allowed.Contains(format)
            ? format
            : throw new PerfInputException($"Unknown format '{format}'; use one of: {string.Join(", ", allowed)}.");
    }

    private static void PrintText(ComparisonReport report, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            // Colour only when writing to a terminal; NO_COLOR is honoured by Spectre itself.
            Ansi = output == Console.Out ? AnsiSupport.Detect : AnsiSupport.No,
        });
        // Tables are as wide as they need: a log or a pipe has no terminal width to wrap at.
        console.Profile.Width = Math.Max(console.Profile.Width, 220);
        foreach (var line in ComparisonTables.HeaderLines(report))
        {
            output.WriteLine(line);
        }
        output.WriteLine();
        output.WriteLine(report.SummaryLine);
        foreach (var table in ComparisonTables.Build(report))
        {
            var rendered = new Table().Border(TableBorder.Simple).AddColumn(new TableColumn(new Text(table.Title)));
            foreach (var header in table.Headers)
            {
                rendered.AddColumn(new TableColumn(new Text(header)).RightAligned());
            }
            foreach (var row in table.Rows)
            {
                rendered.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
            }
            console.Write(rendered);
        }
        output.WriteLine();
        if (report.Caveat is not null)
        {
            output.WriteLine($"note: {report.Caveat}");
        }
        output.WriteLine(report.VerdictLine);
    }
}
