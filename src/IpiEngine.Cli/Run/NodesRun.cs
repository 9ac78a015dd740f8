using IpiEngine.Cli.Nodes;

namespace IpiEngine.Cli.Run;

/// <summary>
/// <c>ipi run --nodes N</c>: the VM spread over N engines in N processes on loopback, forwarding IPIs between them.
/// The transport's <see cref="MultiNodeRun"/> does the work and writes the per-node table; this maps the options and
/// Ctrl-C onto it.
/// </summary>
public static class NodesRun
{
    /// <summary>Runs the nodes; the exit code is the multi-node run's (0 every IPI exactly once, 1 incomplete, 2 a node failed).</summary>
    public static int Execute(RunSettings settings, RunConsole console, TextWriter error, RunInterruption interruption)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(interruption);
        var nodes = settings.Nodes!.Value;
        var run = new MultiNodeRun
        {
            Nodes = nodes,
            VcpusPerNode = settings.Vcpus / nodes,
            PerSource = settings.NodesPerSource,
            Rate = settings.Rate is { } rate ? Math.Max(1, (long)(rate / nodes)) : 0,
            Log = line => error.WriteLine(line),
        };
        console.Writer.WriteLine($"{nodes} nodes on loopback, {run.VcpusPerNode} vCPUs each, {run.PerSource:N0} IPIs from each vCPU to each other node");
        using var cancel = new CancellationTokenSource();
        var running = run.RunAndReportAsync(console.Writer, error, cancel.Token);
        while (!running.IsCompleted)
        {
            if (interruption.Requested)
            {
                cancel.Cancel(); // the run stops its node processes on the way out
            }

            Thread.Sleep(50);
        }

        try
        {
            return running.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            console.Writer.WriteLine("Interrupted: the node processes were stopped before they reported.");
            return 1;
        }
    }
}
