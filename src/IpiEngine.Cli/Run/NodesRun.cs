using IpiEngine.Cli.Nodes;

namespace IpiEngine.Cli.Run;

/// <summary>
/// <c>ipi run --nodes N</c>: the VM spread over N engines in N processes on loopback, forwarding IPIs between them.
/// The transport's <see cref="MultiNodeRun"/> does the work and writes the per-node table; this maps the options and
/// Ctrl-C onto it. The workload is the single-node run's (same options and defaults: 16 vCPUs, x2apic-cluster,
/// linux-mix, 10 s); <c>--count</c> is IPIs over all vCPUs, <c>--rate</c> IPIs/s over all nodes.
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
            Vcpus = settings.Vcpus,
            Topology = settings.Topology.Name,
            Workload = settings.Mix.Name,
            Seed = settings.Seed,
            IpisPerVcpu = settings.Count is { } count ? count / settings.Vcpus : 0, // a multiple of the vCPUs (RunOptions)
            Duration = settings.Duration,
            Rate = settings.Rate is { } rate ? (long)(rate / nodes) : 0, // a whole multiple of the nodes (RunOptions)
            Timeout = TimeSpan.FromSeconds(60) + (settings.Count is null ? settings.Duration : TimeSpan.Zero),
            Log = line => error.WriteLine(line),
        };
        var amount = settings.Count is null ? $"for {settings.Duration.TotalSeconds:0.###} s" : $"{run.IpisPerVcpu:N0} IPIs per vCPU";
        console.Writer.WriteLine($"{nodes} nodes on loopback, {settings.Vcpus} vCPUs (vCPU v on node v % {nodes}), {settings.Topology.Name}, "
            + $"{settings.Mix.Name}, seed {settings.Seed}, {amount}");
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
