namespace IpiEngine.Cli.Run;

/// <summary>
/// Finds a trace by name: <c>NAME</c> may be a path prefix (<c>traces/xapic-flat-smp4</c>) or the name of a bundled
/// trace, looked up in <c>./traces</c> and in a <c>traces</c> folder above the executable (the repository's).
/// </summary>
public static class TraceLocator
{
    /// <summary>The files of one trace; <see cref="ReferencePath"/> is null when no <c>deliveries.csv</c> sits beside it.</summary>
    public sealed record TraceFiles(string Name, string VcpusPath, string ExitsPath, string? ReferencePath);

    /// <summary>Resolves a name; throws <see cref="RunInputException"/> when no such trace exists.</summary>
    public static TraceFiles Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var prefix in Candidates(name))
        {
            var vcpus = prefix + ".vcpus.csv";
            var exits = prefix + ".exits.csv";
            if (File.Exists(vcpus) && File.Exists(exits))
            {
                var reference = prefix + ".deliveries.csv";
                return new TraceFiles(Path.GetFileName(prefix), vcpus, exits, File.Exists(reference) ? reference : null);
            }
        }

        throw new RunInputException($"No trace named '{name}' was found (looked for {name}.vcpus.csv and {name}.exits.csv here, in ./traces and in the repository's traces folder).");
    }

    private static IEnumerable<string> Candidates(string name)
    {
        var trimmed = name.EndsWith(".exits.csv", StringComparison.Ordinal) ? name[..^".exits.csv".Length] : name;
        yield return trimmed;
        yield return Path.Combine("traces", trimmed);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            yield return Path.Combine(dir.FullName, "traces", trimmed);
        }
    }
}
