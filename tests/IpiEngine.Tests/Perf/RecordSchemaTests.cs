using System.Text.Json.Nodes;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// Keeps <c>perf-results/schema/perf-run.v1.schema.json</c> honest: a record converted from the
/// fixture has every property the schema requires, of the type it names, and nothing the schema
/// does not describe.
/// </summary>
public class RecordSchemaTests
{
    [Fact]
    public void A_converted_record_matches_the_checked_in_schema()
    {
        using var folder = PerfFixtures.TempFolder();
        var record = RecordConverter.Convert(
            [PerfFixtures.Path("calibration-ci-report-full.json")],
            SuiteRunManifest.Load(PerfFixtures.Path("calibration-ci-manifest.json")),
            new CommitInfo { Sha = "0123456789abcdef0123456789abcdef01234567", Subject = "s", CommittedUtc = DateTimeOffset.UnixEpoch },
            DateTimeOffset.UnixEpoch);
        var path = new RecordStore(folder.FullName).Save(record);
        var schemaPath = Path.Combine(Path.GetDirectoryName(PerfFixtures.Path("x"))!, "..", "..", "..", "..", "perf-results", "schema", "perf-run.v1.schema.json");
        var schema = JsonNode.Parse(File.ReadAllText(schemaPath))!;
        var problems = new List<string>();
        Check(schema, JsonNode.Parse(File.ReadAllText(path)), "$", problems);
        Assert.Empty(problems);
    }

    [Fact]
    public void The_schema_check_itself_catches_a_missing_property()
    {
        var schema = JsonNode.Parse("""{ "type": "object", "required": ["a"], "properties": { "a": { "type": "integer" } } }""")!;
        var problems = new List<string>();
        Check(schema, JsonNode.Parse("""{ "b": 1 }"""), "$", problems);
        Assert.Equal(2, problems.Count);
    }

    private static void Check(JsonNode schema, JsonNode? value, string where, List<string> problems)
    {
        var type = schema["type"]?.GetValue<string>();
        if (type is not null && !HasType(value, type))
        {
            problems.Add($"{where}: expected {type}");
            return;
        }
        if (value is JsonObject obj)
        {
            var properties = schema["properties"] as JsonObject;
            foreach (var required in schema["required"] as JsonArray ?? [])
            {
                if (!obj.ContainsKey(required!.GetValue<string>()))
                {
                    problems.Add($"{where}: missing {required}");
                }
            }
            foreach (var (name, child) in obj)
            {
                if (properties?[name] is { } childSchema)
                {
                    Check(childSchema, child, $"{where}.{name}", problems);
                }
                else if (properties is not null)
                {
                    problems.Add($"{where}: {name} is not in the schema");
                }
            }
        }
        if (value is JsonArray array && schema["items"] is { } items)
        {
            for (int i = 0; i < array.Count; i++)
            {
                Check(items, array[i], $"{where}[{i}]", problems);
            }
        }
    }

    private static bool HasType(JsonNode? value, string type) => type switch
    {
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => value is JsonValue v && v.TryGetValue<string>(out _),
        "boolean" => value is JsonValue v && v.TryGetValue<bool>(out _),
        "integer" => value is JsonValue v && v.TryGetValue<long>(out _),
        "number" => value is JsonValue v && v.TryGetValue<double>(out _),
        _ => true,
    };
}
