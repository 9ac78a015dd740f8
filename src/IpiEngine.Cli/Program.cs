using System.CommandLine;

namespace IpiEngine.Cli;

/// <summary>The <c>ipi</c> command: one verb per job.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    /// <summary>The command tree (tests parse and invoke it in-process).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("ipi: resolve, deliver and forward x86 inter-processor interrupts between emulated vCPUs.");
        root.Add(NodeCommand.Create());
        return root;
    }
}
