using System.Text.Json;

namespace IpiEngine.Perf.Comparison;

/// <summary>Writes a comparison as JSON (for scripts): the same verdicts as the text output.</summary>
public static class ComparisonJson
{
    /// <summary>The report as indented JSON.</summary>
    public static string Serialize(ComparisonReport report) =>
        JsonSerializer.Serialize(report, PerfJsonContext.Default.ComparisonReport);
}

/// <summary>Writes the rates of an A/A series as JSON.</summary>
public static class VerdictRatesJson
{
    /// <summary>The rates as indented JSON.</summary>
    public static string Serialize(VerdictRates rates) =>
        JsonSerializer.Serialize(rates, PerfJsonContext.Default.VerdictRates);
}
