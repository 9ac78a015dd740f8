using System.Text.Json.Serialization;

namespace IpiEngine.Cli.Run;

/// <summary>Source-generated JSON for <see cref="RunReport"/> (no reflection, trims and AOT-compiles).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
