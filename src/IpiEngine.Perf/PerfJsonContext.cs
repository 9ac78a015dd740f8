using System.Text.Json.Serialization;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf;

/// <summary>Source-generated JSON for every file the perf tools read or write (camelCase, indented, nulls left out).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(SuiteRunManifest))]
internal sealed partial class PerfJsonContext : JsonSerializerContext;
