namespace IpiEngine.Cli;

/// <summary>
/// Finds the repository's bundled traces (<c>traces/NAME.{vcpus,exits,deliveries}.csv</c>) by walking up from the
/// current directory and from the program's folder.
/// </summary>
internal static class BundledTraces
{
    private const string FolderName = "traces";
    private const string VcpusSuffix = ".vcpus.csv";

    /// <summary>The folder holding <paramref name="name"/>'s files, or null.</summary>
    public static string? Find(string name)
    {
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0)
        {
            return null;
        }

        foreach (string folder in CandidateFolders())
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

    private static IEnumerable<string> CandidateFolders()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
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
