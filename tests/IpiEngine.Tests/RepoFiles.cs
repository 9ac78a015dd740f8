namespace IpiEngine.Tests;

/// <summary>Finds files of the repository from the test binary's folder.</summary>
internal static class RepoFiles
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    /// <summary>The repository root (the folder holding Engine.sln).</summary>
    public static string Root => RootPath.Value;

    /// <summary>A path below the repository root.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Engine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Engine.sln not found above " + AppContext.BaseDirectory);
    }
}
