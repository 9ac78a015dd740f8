using System.Text.Json;
using IpiEngine.Perf.Calibration;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// What the suite knows about a run that BenchmarkDotNet's JSON export does not carry: the
/// profile's job settings, each benchmark's categories and the calibration readings taken right
/// before and after it. The suite writes it next to the export (<c>--manifest PATH</c>);
/// <c>ipi perf record</c> merges the two into a record.
/// </summary>
public sealed record SuiteRunManifest
{
    /// <summary>Format version of this file.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>The job settings the suite ran with.</summary>
    public required SuiteProfile Profile { get; init; }

    /// <summary>The thresholds the calibration labels were computed with.</summary>
    public CoreDistanceThresholds Thresholds { get; init; } = CoreDistanceThresholds.Default;

    /// <summary>Every benchmark that started, in run order.</summary>
    public IReadOnlyList<ManifestBenchmark> Benchmarks { get; init; } = [];

    /// <summary>BenchmarkDotNet's validation errors (a benchmark that could not even start).</summary>
    public IReadOnlyList<string> ValidationErrors { get; init; } = [];

    /// <summary>Writes the manifest as JSON (replacing the file).</summary>
    public void Save(string path)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(this, PerfJsonContext.Default.SuiteRunManifest);
        // Write then rename, so a reader never sees half a file even if the run is killed.
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, json);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a manifest; throws <see cref="JsonException"/> or an I/O exception on bad input.</summary>
    public static SuiteRunManifest Load(string path) =>
        JsonSerializer.Deserialize(File.ReadAllBytes(path), PerfJsonContext.Default.SuiteRunManifest)
        ?? throw new JsonException($"{path} holds no manifest.");
}

/// <summary>One benchmark in a <see cref="SuiteRunManifest"/>.</summary>
public sealed record ManifestBenchmark
{
    /// <summary>BenchmarkDotNet's full name, the key that joins the manifest to the JSON export.</summary>
    public required string FullName { get; init; }

    /// <summary>The benchmark's categories (area, <see cref="SuiteCategories"/>).</summary>
    public IReadOnlyList<string> Categories { get; init; } = [];

    /// <summary>Calibration right before the benchmark started.</summary>
    public CoreDistanceReading? Before { get; init; }

    /// <summary>Calibration right after it ended.</summary>
    public CoreDistanceReading? After { get; init; }
}
