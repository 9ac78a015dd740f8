namespace IpiEngine.Perf.Comparison;

/// <summary>Writes a comparison as Markdown (for CI logs and pull requests).</summary>
public static class ComparisonMarkdown
{
    /// <summary>Header block, summary, tables, verdict.</summary>
    public static void Write(ComparisonReport report, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteLine("```");
        foreach (var line in ComparisonTables.HeaderLines(report))
        {
            writer.WriteLine(line);
        }
        writer.WriteLine("```");
        writer.WriteLine();
        writer.WriteLine(report.SummaryLine);
        writer.WriteLine();
        foreach (var table in ComparisonTables.Build(report))
        {
            writer.WriteLine($"| {Escape(table.Title)} | {string.Join(" | ", table.Headers)} |");
            writer.WriteLine($"|---|{string.Concat(table.Headers.Select(_ => "---:|"))}");
            foreach (var row in table.Rows)
            {
                writer.WriteLine($"| {string.Join(" | ", row.Select(Escape))} |");
            }
            writer.WriteLine();
        }
        if (report.Caveat is not null)
        {
            writer.WriteLine($"> Note: {report.Caveat}");
            writer.WriteLine();
        }
        writer.WriteLine($"**{report.VerdictLine}**");
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|", StringComparison.Ordinal);
}
