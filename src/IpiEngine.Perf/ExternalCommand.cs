using System.Diagnostics;
using System.Text;

namespace IpiEngine.Perf;

/// <summary>Runs another program (git, dotnet) and collects its exit code and output.</summary>
internal static class ExternalCommand
{
    /// <summary>The outcome of one run.</summary>
    internal readonly record struct Outcome(int ExitCode, string Output, string Error);

    /// <summary>
    /// Runs <paramref name="fileName"/> to completion. With <paramref name="echo"/>, output is passed
    /// through line by line (to stderr, so that stdout stays clean for the tool's own result).
    /// <paramref name="environment"/> adds or replaces environment variables of the program.
    /// </summary>
    /// <exception cref="PerfInputException">The program could not be started.</exception>
    public static Outcome Run(string fileName, IEnumerable<string> arguments, string workingDirectory, TextWriter? echo = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        var output = new StringBuilder();
        var error = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Collect(output, e.Data, echo);
        process.ErrorDataReceived += (_, e) => Collect(error, e.Data, echo);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PerfInputException($"Cannot start {fileName}: {e.Message}", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        return new Outcome(process.ExitCode, output.ToString(), error.ToString());
    }

    private static void Collect(StringBuilder into, string? line, TextWriter? echo)
    {
        if (line is null)
        {
            return;
        }
        lock (into)
        {
            into.AppendLine(line);
        }
        echo?.WriteLine(line);
    }
}
