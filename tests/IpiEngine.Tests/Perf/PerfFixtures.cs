using System.CommandLine;
using IpiEngine.Cli;

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

    /// <summary>The repository's root folder (for <c>--repo</c>).</summary>
    public static string RepositoryRoot => System.IO.Path.GetFullPath(System.IO.Path.Combine(Path("x"), "..", "..", "..", "..", ".."));

    /// <summary>Runs the <c>ipi</c> command line in-process and returns its exit code, stdout and stderr.</summary>
    public static (int ExitCode, string Output, string Error) RunCli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
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
