namespace IpiEngine.Cli;

/// <summary>
/// Finds the repository's bundled traces (<c>traces/NAME.{vcpus,exits,deliveries}.csv</c>) by walking up from the
/// current directory and from the program's folder.
/// </summary>
internal static class BundledTraces
{
    private const string FolderName = "traces";
    private const string VcpusSuffix = ".vcpus.csv";
    private const string ExitsSuffix = ".exits.csv";
    private const string DeliveriesSuffix = ".deliveries.csv";

    /// <summary>The files of one trace, by the suffix after its prefix.</summary>
    private static readonly string[] FileSuffixes = [VcpusSuffix, ExitsSuffix, DeliveriesSuffix];

    /// <summary>
    /// The files of the trace <c>--trace</c> names, for <c>ipi run</c> and <c>ipi replay</c> alike: a bundled name, a
    /// path prefix P (P.vcpus.csv and P.exits.csv beside each other), or one of a trace's own files
    /// (<c>traces/xapic-flat-smp4.exits.csv</c> is the trace <c>traces/xapic-flat-smp4</c>). The reference
    /// (P.deliveries.csv) is null when absent.
    /// </summary>
    /// <exception cref="ArgumentException">No trace there (one sentence: what was found instead, and what to give).</exception>
    public static TraceFiles Locate(string name) => Locate(name, directory: null);

    /// <summary>
    /// <see cref="Locate(string)"/> with relative names taken from <paramref name="directory"/> (null: the current
    /// directory). A trace that exists as given wins over a bundled trace of the same name: a file named on the command
    /// line (or the prefix of files there) is what the user means, also when the bundled folder holds a namesake.
    /// </summary>
    internal static TraceFiles Locate(string name, string? directory)
    {
        string At(string path) => directory is null ? path : Path.Combine(directory, path);
        bool ownFile = false;
        if (File.Exists(At(name)) && Array.Find(FileSuffixes, s => name.EndsWith(s, StringComparison.OrdinalIgnoreCase)) is { } suffix)
        {
            name = name[..^suffix.Length]; // one of the trace's files: the rest sit beside it
            ownFile = true;
        }

        string prefix = !ownFile && !File.Exists(At(name + VcpusSuffix)) && Find(name, directory) is { } folder ? Path.Combine(folder, name) : At(name);
        var (vcpus, exits, reference) = (prefix + VcpusSuffix, prefix + ExitsSuffix, prefix + DeliveriesSuffix);
        if (name.Length > 0 && File.Exists(vcpus) && File.Exists(exits))
        {
            return new TraceFiles(Path.GetFileName(prefix), vcpus, exits, File.Exists(reference) ? reference : null);
        }

        if (name.Length > 0 && (File.Exists(At(name)) || Directory.Exists(At(name))))
        {
            throw new ArgumentException($"--trace '{name}' is a {(Directory.Exists(At(name)) ? "folder" : "file")}, not a trace: give a bundled name or a path "
                + "prefix P with P.vcpus.csv and P.exits.csv beside each other (or the files themselves with --vcpus FILE --exits FILE).");
        }

        var known = List();
        string list = known.Count == 0 ? "none was found (no traces folder above the current directory)" : $"the bundled traces are {string.Join(", ", known)}";
        throw new ArgumentException(name.Length == 0
            ? $"--trace needs a trace name: {list}."
            : $"No trace named '{name}' was found (no {name}{VcpusSuffix} and {name}{ExitsSuffix}): {list}.");
    }

    /// <summary>The folder holding <paramref name="name"/>'s files, or null.</summary>
    public static string? Find(string name) => Find(name, directory: null);

    private static string? Find(string name, string? directory)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0)
        {
            return null;
        }

        foreach (string folder in CandidateFolders(directory))
        {
            if (File.Exists(Path.Combine(folder, name + VcpusSuffix)))
            {
                return folder;
            }
        }

        return null;
    }

    /// <summary>The names of the traces in the first traces folder found (sorted), or none.</summary>
    public static IReadOnlyList<string> List()
    {
        foreach (string folder in CandidateFolders())
        {
            string[] names = Directory.GetFiles(folder, "*" + VcpusSuffix)
                .Select(path => Path.GetFileName(path)[..^VcpusSuffix.Length])
                .Order(StringComparer.Ordinal)
                .ToArray();
            if (names.Length > 0)
            {
                return names;
            }
        }

        return [];
    }

    private static IEnumerable<string> CandidateFolders(string? directory = null)
    {
        foreach (string start in new[] { directory ?? Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string folder = Path.Combine(dir.FullName, FolderName);
                if (Directory.Exists(folder))
                {
                    yield return folder;
                }
            }
        }
    }
}

/// <summary>One trace's files: its name, vcpus.csv, exits.csv and the reference deliveries.csv (null when absent).</summary>
internal readonly record struct TraceFiles(string Name, string Vcpus, string Exits, string? Reference);
