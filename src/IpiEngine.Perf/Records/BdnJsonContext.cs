using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Records;

/// <summary>Source-generated reader of BenchmarkDotNet's full JSON export (PascalCase names, unknown members skipped).</summary>
[JsonSourceGenerationOptions(
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals | JsonNumberHandling.AllowReadingFromString,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(BdnFullReport))]
internal sealed partial class BdnJsonContext : JsonSerializerContext;
