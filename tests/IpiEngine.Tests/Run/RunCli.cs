using System.CommandLine;
using IpiEngine.Cli;

namespace IpiEngine.Tests.Run;

/// <summary>Runs <c>ipi</c> in-process with captured output.</summary>
internal static class RunCli
{
    public static (int ExitCode, string Output, string Error) Invoke(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }
}
