using System.Text.Json.Serialization;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf;

/// <summary>Source-generated JSON for every file the perf tools read or write (camelCase, indented, nulls left out).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    // A ratio over a failed benchmark's missing median is NaN: written as the string "NaN", still JSON.
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(SuiteRunManifest))]
[JsonSerializable(typeof(PerfRecord))]
[JsonSerializable(typeof(ComparisonReport))]
[JsonSerializable(typeof(VerdictRates))]
[JsonSerializable(typeof(IpiEngine.Perf.Ratios.RatioReport))]
internal sealed partial class PerfJsonContext : JsonSerializerContext;
