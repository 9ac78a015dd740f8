using System.CommandLine;

namespace IpiEngine.Cli;

/// <summary>The <c>ipi</c> command: one verb per job.</summary>
internal static class Program
{
    /// <summary>Exit code for bad input: unknown options, bad values, unreadable files.</summary>
    public const int BadInput = 2;

    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => Run(args, Console.Error);

    /// <summary>
    /// Parses and runs <paramref name="args"/>. A parse error (unknown option, bad value) prints its message and
    /// <c>--help</c> hint to <paramref name="error"/> and returns <see cref="BadInput"/>, never a stack trace.
    /// </summary>
    public static int Run(string[] args, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        ParseResult result = BuildRoot().Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var parseError in result.Errors)
            {
                error.WriteLine($"ipi: {parseError.Message}");
            }

            error.WriteLine("Run 'ipi --help' (or 'ipi <verb> --help') for usage.");
            return BadInput;
        }

        return result.Invoke();
    }

    /// <summary>The command tree (tests parse and invoke it in-process).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("ipi: resolve, deliver and forward x86 inter-processor interrupts between emulated vCPUs.");
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(PerfCommand.Create());
        root.Subcommands.Add(NodeCommand.Create());
        return root;
    }
}
