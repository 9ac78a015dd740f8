using System.Text.Json;

namespace IpiEngine.Perf.Records;

/// <summary>
/// The results folder: <c>runs/&lt;machine-id&gt;/&lt;stamp&gt;_&lt;sha12&gt;[-dirty].json</c>, one file per
/// run, so that records from parallel branches merge without conflicts.
/// </summary>
public sealed class RecordStore(string root)
{
    /// <summary>The results folder (usually <c>perf-results/</c> at the repository root).</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Where the records live.</summary>
    public string RunsFolder => Path.Combine(Root, "runs");

    /// <summary>
    /// Creates the runs folder if needed, before a long run whose record it will hold: a results path that is a file, or
    /// a folder that cannot be written, is refused up front, not after the benchmarks ran.
    /// </summary>
    /// <exception cref="PerfInputException">The folder cannot be created or written.</exception>
    public void EnsureWritable()
    {
        try
        {
            Directory.CreateDirectory(RunsFolder);
            string probe = Path.Combine(RunsFolder, $".write-check-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PerfInputException($"--results '{Root}' cannot hold records ({e.Message.TrimEnd('.')}): give a folder you can write.", e);
        }
    }

    /// <summary>Writes a record under its machine id and returns the file path; never overwrites another record (a copy number tells them apart).</summary>
    public string Save(PerfRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var folder = Path.Combine(RunsFolder, record.Machine.Id);
        Directory.CreateDirectory(folder);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, PerfJsonContext.Default.PerfRecord);
        for (int copy = 1; ; copy++)
        {
            var path = Path.Combine(folder, RecordFileName.For(record.Run.StartedUtc, record.Commit.Sha, record.Commit.Dirty, copy));
            try
            {
                using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write); // fails if it exists: no overwrite, even racing
                file.Write(bytes);
                return path;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Taken: the other side of the same round, or a run started in the same second. Try the next copy.
            }
        }
    }

    /// <summary>Every record file under <see cref="RunsFolder"/>, oldest first.</summary>
    public IReadOnlyList<string> AllFiles() => RecordFiles(RunsFolder);

    /// <summary>The record files of one commit (by its first 12 hex digits), oldest first.</summary>
    public IReadOnlyList<string> FilesOf(string sha)
    {
        ArgumentNullException.ThrowIfNull(sha);
        var shortSha = (sha.Length > 12 ? sha[..12] : sha).ToLowerInvariant();
        var found = new List<string>();
        foreach (var path in AllFiles())
        {
            if (RecordFileName.TryParse(path, out _, out var fileSha, out _) && fileSha == shortSha)
            {
                found.Add(path);
            }
        }
        return found;
    }

    /// <summary>Record files (by name) anywhere under <paramref name="folder"/>, ordered by their time stamp.</summary>
    public static IReadOnlyList<string> RecordFiles(string folder) =>
        Directory.Exists(folder)
            ? RecordFiles(Directory.EnumerateFiles(folder, "*.json", SearchOption.AllDirectories))
            : [];

    /// <summary>The record files (by name) among <paramref name="paths"/>, ordered by their time stamp.</summary>
    public static IReadOnlyList<string> RecordFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        // Each name parsed once: its stamp, the path without its copy suffix, and its copy number.
        var files = new List<(DateTimeOffset Stamp, string Stem, int Copy, string Path)>();
        foreach (var path in paths)
        {
            if (RecordFileName.TryParse(path, out var stamp, out _, out _, out int copy))
            {
                files.Add((stamp, copy == 1 ? path[..^".json".Length] : path[..path.LastIndexOf('-')], copy, path));
            }
        }
        // Same stamp: by folder and commit, then by copy number (a plain name comparison would put "-2.json" before ".json").
        files.Sort((a, b) => a.Stamp != b.Stamp ? a.Stamp.CompareTo(b.Stamp)
            : string.CompareOrdinal(a.Stem, b.Stem) is var byStem && byStem != 0 ? byStem
            : a.Copy.CompareTo(b.Copy));
        return files.ConvertAll(f => f.Path);
    }

    /// <summary>Reads one record.</summary>
    /// <exception cref="PerfInputException">The file is missing, is not JSON, or is not a record this version reads.</exception>
    public static PerfRecord Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new PerfInputException($"Cannot read the record '{path}': {e.Message}", e);
        }
        PerfRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(bytes, PerfJsonContext.Default.PerfRecord);
        }
        catch (JsonException e) when (e.Message.Contains("missing required properties", StringComparison.Ordinal)
            || e.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            // Well-formed JSON of another shape: say what a record holds, not the serializer's target type.
            throw new PerfInputException($"{path} is not a perf record: one is a JSON object with \"commit\", \"machine\", \"run\" and \"benchmarks\" (at {e.Path ?? "$"}).", e);
        }
        catch (JsonException e)
        {
            throw new PerfInputException($"{path} is not a valid perf record ({e.Message}).", e);
        }
        if (record is null || record.Benchmarks is null || record.Machine?.Id is null || record.Commit?.Sha is null || record.Run is null)
        {
            throw new PerfInputException($"{path} is not a perf record (commit, machine, run or benchmarks missing).");
        }
        // JSON null where a value is required passes the serializer's required-property check and failed later, far
        // from the file, as a NullReferenceException: each benchmark is checked here.
        for (int i = 0; i < record.Benchmarks.Count; i++)
        {
            if (record.Benchmarks[i] is not { Id: not null, Samples: not null, Categories: not null, Calibration: not null })
            {
                string named = record.Benchmarks[i]?.Id is { } id ? $" ('{id}')" : "";
                throw new PerfInputException($"{path} is not a perf record: benchmark {i + 1}{named} lacks its id, samples, categories or calibration.");
            }
        }
        if (record.Run.Calibration is null || record.Run.ValidationErrors is null)
        {
            throw new PerfInputException($"{path} is not a perf record: its run has a null {(record.Run.Calibration is null ? "calibration" : "validationErrors")}.");
        }
        foreach (var benchmark in record.Benchmarks)
        {
            // A sample of NaN or Infinity (the reader takes them as strings) is no time: refused here, not in a test's library.
            foreach (double sample in benchmark.Samples)
            {
                if (!double.IsFinite(sample) || sample < 0)
                {
                    throw new PerfInputException($"{path} is not a usable perf record: benchmark '{benchmark.Id}' has the sample {sample.ToString(System.Globalization.CultureInfo.InvariantCulture)} (every sample is a finite, non-negative time in ns).");
                }
            }
        }
        if (record.SchemaVersion != PerfRecord.CurrentSchemaVersion)
        {
            throw new PerfInputException($"{path} has schema version {record.SchemaVersion}; this tool reads version {PerfRecord.CurrentSchemaVersion}.");
        }
        return record;
    }
}
