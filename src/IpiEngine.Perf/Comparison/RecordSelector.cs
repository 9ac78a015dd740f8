using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// Resolves what the user named for one side of a comparison — a record file, a folder of records,
/// or a commit (sha, branch, tag) whose records are in the store — into a <see cref="RecordSet"/>.
/// A baseline never includes records from dirty trees.
/// </summary>
public sealed class RecordSelector(RecordStore store, GitRepository? git)
{
    /// <summary>Selects the records for one side.</summary>
    /// <param name="spec">File, folder, commit, or range of commits (<c>main~5..main</c>: a rolling baseline of their records).</param>
    /// <param name="isBaseline">True for <c>--base</c>: dirty records are refused or left out.</param>
    /// <exception cref="PerfInputException">Nothing usable is found; the message says what and why.</exception>
    public RecordSet Select(string spec, bool isBaseline)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new PerfInputException($"The {(isBaseline ? "base" : "diff")} side is empty: name a record file, a folder of records, or a commit.");
        }
        if (File.Exists(spec))
        {
            var record = RecordStore.Load(spec);
            if (isBaseline && record.Commit.Dirty)
            {
                throw new PerfInputException($"{spec} was recorded from a dirty tree and cannot be a baseline.");
            }
            return new RecordSet(spec, [record], []);
        }
        if (Directory.Exists(spec))
        {
            var files = RecordStore.RecordFiles(spec);
            if (files.Count == 0)
            {
                throw new PerfInputException($"The folder {spec} holds no perf records (<stamp>_<sha12>[-dirty].json).");
            }
            return FromFiles(spec, files, isBaseline);
        }
        if (git is null)
        {
            throw new PerfInputException($"'{spec}' is neither a record file nor a folder, and there is no git repository to look it up in.");
        }
        if (git.TryListRange(spec) is { } range)
        {
            var inRange = range.SelectMany(store.FilesOf).ToList();
            if (inRange.Count == 0)
            {
                throw new PerfInputException($"No records of the {range.Count} commit(s) in '{spec}' in {store.RunsFolder}.");
            }
            return FromFiles($"{spec} ({range.Count} commits)", RecordStore.RecordFiles(inRange), isBaseline);
        }
        var sha = git.TryResolveCommit(spec)
            ?? throw new PerfInputException($"'{spec}' is neither a record file, a folder, nor a commit known to git.");
        var ofCommit = store.FilesOf(sha);
        if (ofCommit.Count == 0)
        {
            throw new PerfInputException($"No records of commit {sha[..12]} ('{spec}') in {store.RunsFolder}; run 'ipi perf record' on it first.");
        }
        return FromFiles($"{spec} ({sha[..12]})", ofCommit, isBaseline);
    }

    private static RecordSet FromFiles(string label, IReadOnlyList<string> files, bool isBaseline)
    {
        var clean = new List<PerfRecord>();
        var dirty = new List<PerfRecord>();
        foreach (var file in files)
        {
            var record = RecordStore.Load(file);
            (record.Commit.Dirty ? dirty : clean).Add(record);
        }
        if (isBaseline)
        {
            if (clean.Count == 0)
            {
                throw new PerfInputException($"Every record of '{label}' comes from a dirty tree; a baseline needs a clean record.");
            }
            return new RecordSet(label, clean, dirty.Count == 0 ? [] : [$"{dirty.Count} dirty record(s) left out"]);
        }
        // A diff side prefers clean records; failing those, only the newest dirty one (dirty trees differ from each other).
        if (clean.Count > 0)
        {
            return new RecordSet(label, clean, dirty.Count == 0 ? [] : [$"{dirty.Count} dirty record(s) left out"]);
        }
        return new RecordSet(label + " (dirty)", [dirty[^1]], dirty.Count > 1 ? [$"{dirty.Count - 1} older dirty record(s) left out"] : []);
    }
}
