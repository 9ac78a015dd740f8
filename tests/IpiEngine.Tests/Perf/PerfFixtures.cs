namespace IpiEngine.Tests.Perf;

/// <summary>Finds the checked-in fixtures from the test binary's folder (walks up to the repository root).</summary>
internal static class PerfFixtures
{
    public static string Path(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Engine.sln")))
            {
                return System.IO.Path.Combine(dir.FullName, "tests", "IpiEngine.Tests", "Perf", "Fixtures", name);
            }
        }
        throw new InvalidOperationException("Engine.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A fresh empty folder under the temp folder, deleted by <see cref="IDisposable.Dispose"/>.</summary>
    public static TempFolder TempFolder() => new();
}

internal sealed class TempFolder : IDisposable
{
    public TempFolder() => FullName = Directory.CreateTempSubdirectory("ipi-perf-test-").FullName;

    public string FullName { get; }

    public string File(string name) => System.IO.Path.Combine(FullName, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(FullName, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
