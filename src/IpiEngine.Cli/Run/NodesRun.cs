using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Trace;

namespace IpiEngine.Cli.Run;

/// <summary>
/// <c>ipi run --nodes N</c>: the VM spread over N engines in N processes on loopback, forwarding IPIs between them.
/// A generated workload goes to <see cref="MultiNodeRun"/> (same options and defaults as one node: 16 vCPUs,
/// x2apic-cluster, linux-mix, 10 s; <c>--count</c> is IPIs over all vCPUs, <c>--rate</c> IPIs/s over all nodes); a
/// trace to <see cref="TraceNodesRun"/>, whose merged deliveries are written (<c>--deliveries</c>) and compared
/// (<c>--check</c>, default the trace's reference). This maps the options, Ctrl-C and <c>--json</c> onto them.
/// </summary>
internal static class NodesRun
{
    /// <summary>Runs the nodes; the exit code is 0 every IPI exactly once (and equal to the reference), 1 not, 2 a node failed or bad input.</summary>
    public static int Execute(RunSettings settings, RunConsole console, TextWriter error, RunInterruption interruption, TextWriter? jsonOutput = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(interruption);
        error = SharedLog(error);
        return settings.IsTrace
            ? Trace(settings, console, error, interruption, jsonOutput)
            : Synthetic(settings, console, error, interruption, jsonOutput);
    }

    /// <summary>
    /// The error writer as the nodes share it: every node's stderr lines arrive on that process's own reader thread
    /// (<see cref="NodeProcesses"/>), several at once and beside the run's own lines, and a writer such as a
    /// <see cref="StringWriter"/> is not safe for that (an embedding test host crashed in <c>StringBuilder.Append</c>,
    /// 2026-12-05). So every write goes through one lock.
    /// </summary>
    internal static TextWriter SharedLog(TextWriter error) => TextWriter.Synchronized(error);

    private static int Synthetic(RunSettings settings, RunConsole console, TextWriter error, RunInterruption interruption, TextWriter? jsonOutput)
    {
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
            PaceStepMicroseconds = PaceStepMicroseconds(settings),
            SendBatch = settings.SendBatch,
            Batch = settings.Batch,
            Threading = settings.Threading,
            Assist = settings.Assist,
            PipelineCpus = settings.NodePipelineCpus,
            LocalTargets = settings.LocalTargets,
            Warmup = settings.EffectiveWarmup,
            Timeout = NodeTimeout(settings),
            Log = line => error.WriteLine(line),
        };
        var amount = settings.Count is null ? $"for {settings.Duration.TotalSeconds:0.###} s" : $"{run.IpisPerVcpu:N0} IPIs per vCPU";
        console.Writer.WriteLine($"{nodes} nodes on loopback, {settings.Vcpus} vCPUs (vCPU v on node v % {nodes}), {settings.Topology.Name}, "
            + $"{settings.Mix.Name}, seed {settings.Seed}, {amount}, batch {settings.Batch}" + Suffix(settings)
            + (settings.EffectiveWarmup > TimeSpan.Zero ? $", after a {settings.EffectiveWarmup.TotalSeconds:0.###} s warm-up in each node" : ""));
        var outcome = Wait(ct => run.RunAndSummarizeAsync(console.Writer, error, ct), console, interruption);
        if (outcome is not ({ } code, { } result))
        {
            return outcome?.ExitCode ?? 1;
        }

        JsonOutput.Write(settings.JsonPath, result.ToReport(settings.Threading, AssistSetting(settings), settings.LocalTargets, settings.Vcpus, settings.Topology.Name, settings.Mix.Name) with { Batch = settings.Batch, WarmupSeconds = settings.EffectiveWarmup.TotalSeconds, PaceStepMicroseconds = settings.Rate is null ? null : PaceStepMicroseconds(settings) },
            NodesRunReportJsonContext.Default.NodesRunReport, jsonOutput ?? console.Writer);
        return code;
    }

    private static int Trace(RunSettings settings, RunConsole console, TextWriter error, RunInterruption interruption, TextWriter? jsonOutput)
    {
        var nodes = settings.Nodes!.Value;
        var run = new TraceNodesRun
        {
            Nodes = nodes,
            VcpusPath = settings.VcpusPath!,
            ExitsPath = settings.ExitsPath!,
            Threading = settings.Threading,
            Assist = settings.Assist,
            PipelineCpus = settings.NodePipelineCpus,
            LocalTargets = settings.LocalTargets == "kernel" ? LocalTargets.Kernel : LocalTargets.Engine,
            Log = line => error.WriteLine(line),
        };
        // Read the reference first: a bad file is bad input before any process starts.
        var reference = settings.CheckPath is null ? null : TraceReader.ReadDeliveries(settings.CheckPath);
        console.Writer.WriteLine($"ipi run --nodes {nodes} --trace {settings.TraceName}: vCPU v on node v % {nodes}" + Suffix(settings));
        var outcome = Wait(async ct =>
        {
            try
            {
                return (0, await run.RunAsync(ct));
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or System.ComponentModel.Win32Exception)
            {
                await error.WriteLineAsync($"ipi run --nodes: {e.Message}");
                return (2, (TraceNodesResult?)null);
            }
        }, console, interruption);
        if (outcome is not (_, { } result))
        {
            return outcome?.ExitCode ?? 1;
        }

        TraceNodesSummary.Write(console.Writer, result);
        bool? matches = null;
        if (reference is not null)
        {
            var comparison = DeliveryComparison.Compare(reference, result.Merge.Rows);
            matches = comparison.Identical;
            console.Writer.WriteLine($"{Path.GetFileName(settings.CheckPath)}: {comparison.Matching} rows match, {comparison.Differing} differ");
            foreach (var line in comparison.FirstDifferences)
            {
                console.Writer.WriteLine("  " + line);
            }
        }

        if (settings.DeliveriesPath is { } path)
        {
            if (path == "-")
            {
                DeliveryCsv.Write(console.Writer, result.Merge.Rows);
            }
            else
            {
                using var writer = new StreamWriter(path);
                DeliveryCsv.Write(writer, result.Merge.Rows);
            }
        }

        JsonOutput.Write(settings.JsonPath, TraceNodesSummary.ToReport(result, settings.TraceName ?? "trace", settings.Threading, AssistSetting(settings), settings.LocalTargets, matches, settings.CheckPath),
            NodesRunReportJsonContext.Default.NodesRunReport, jsonOutput ?? console.Writer);
        return result.Exact && matches != false ? 0 : 1;
    }

    /// <summary>The assist setting every node was given (fused threading), or null.</summary>
    /// <summary>The slowest rate a counted unpaced run is given time for: a twentieth of this machine's slowest readings.</summary>
    private const double SlowestUnpacedIpisPerSecond = 500_000;

    /// <summary>
    /// The bound on each wait for the nodes (their start, posting, draining and report): a minute of slack, the warm-up,
    /// and the posting itself: the duration of a timed run, or for a counted one its IPIs at the rate asked (unpaced: at
    /// <see cref="SlowestUnpacedIpisPerSecond"/>). Counted runs got no posting time before, so one whose posting took
    /// over a minute failed as a node that did not answer (review of 2026-12-07).
    /// </summary>
    internal static TimeSpan NodeTimeout(RunSettings settings)
    {
        TimeSpan posting = settings.Count is { } count
            ? TimeSpan.FromSeconds(Math.Min(count / (settings.Rate ?? SlowestUnpacedIpisPerSecond), MaxPosting.TotalSeconds))
            : settings.Duration;
        return TimeSpan.FromSeconds(60) + settings.EffectiveWarmup + posting;
    }

    /// <summary>The most posting time a counted run is given: a year (the nodes take the bound in whole seconds, an int).</summary>
    private static readonly TimeSpan MaxPosting = TimeSpan.FromDays(365);

    private static bool? AssistSetting(RunSettings settings) => settings.Threading == "fused" ? settings.Assist : null;

    /// <summary>Each node's pacing step, in microseconds (RunOptions accepts only whole microseconds).</summary>
    private static int PaceStepMicroseconds(RunSettings settings)
        => settings.PaceStep is { } step ? (int)(step.Ticks / TimeSpan.TicksPerMicrosecond) : PacingClock.DefaultStepMicroseconds;

    private static string Suffix(RunSettings settings)
        => $", {settings.Threading}" + (AssistSetting(settings) is { } on ? $", assist {(on ? "on" : "off")}" : "")
            + (settings.NodePipelineCpus is { } cpus ? $", pipelines on CPUs {string.Join(" / ", cpus.Select(c => string.Join(',', c)))}" : "")
            + (settings.LocalTargets == "kernel" ? ", local targets served by a kernel stand-in" : "")
            + (settings.Rate is { } rate && !settings.IsTrace ? $", paced at {rate:N0} IPIs/s in steps of {PaceStepMicroseconds(settings)} µs, send batch {(settings.SendBatch ? "on" : "off")}" : "");

    /// <summary>Runs the work, cancelling it on Ctrl-C; null when interrupted.</summary>
    private static (int ExitCode, T? Result)? Wait<T>(Func<CancellationToken, Task<(int, T?)>> work, RunConsole console, RunInterruption interruption)
        where T : class
    {
        using var cancel = new CancellationTokenSource();
        var running = work(cancel.Token);
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
            return null;
        }
    }
}
