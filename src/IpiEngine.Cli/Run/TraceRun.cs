using System.Diagnostics;
using IpiEngine.Pipeline;
using IpiEngine.Trace;

namespace IpiEngine.Cli.Run;

/// <summary>
/// A recorded trace through the full engine: each vCPU's records posted by that vCPU's own thread, topology rows
/// coordinated (<see cref="ConcurrentTraceReplay"/>), checked against the sequential replay and, if given, a reference
/// deliveries file; <c>--loop K</c> replays it K times on fresh engines for a throughput figure on real traffic.
/// </summary>
internal static class TraceRun
{
    /// <summary>Replays the trace and reports.</summary>
    public static RunReport Execute(RunSettings settings, RunConsole console, RunInterruption interruption)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(interruption);
        var ids = TraceReader.ReadVcpus(settings.VcpusPath!);
        if (ids.Length > EngineOptions.MaxVcpus)
        {
            throw new RunInputException($"{settings.VcpusPath} lists {ids.Length:N0} vCPUs; the engine runs at most {EngineOptions.MaxVcpus:N0} (ipi replay checks larger traces without the engine).");
        }

        var exits = TraceReader.ReadExits(settings.ExitsPath!, ids.Length);
        var reference = settings.CheckPath is null ? null : TraceReader.ReadDeliveries(settings.CheckPath);
        var sequential = SequentialReplay.Run(ids, exits);
        if (sequential.Counters.Destinations > ConcurrentTraceReplay.MaxLoggedDeliveries)
        {
            throw new RunInputException($"{settings.ExitsPath} delivers {sequential.Counters.Destinations:N0} interrupts; a checked replay through the engine logs at most {ConcurrentTraceReplay.MaxLoggedDeliveries:N0}: split the trace, or check it with ipi replay.");
        }

        var replay = new TraceReplayLoop(settings, ids, exits, sequential, interruption);
        console.Display($"ipi run --trace {settings.TraceName}: {ids.Length} vCPUs, {exits.Length:N0} records x {settings.Loop}", settings.Plain).Show(replay.Poll);

        var rows = replay.FirstRows!;
        if (replay.FirstDifference is { } difference)
        {
            console.Writer.WriteLine($"differs from the sequential replay: {difference}");
        }

        bool? matchesReference = null;
        if (reference is not null)
        {
            var comparison = DeliveryComparison.Compare(reference, rows);
            matchesReference = comparison.Identical;
            console.Writer.WriteLine($"{Path.GetFileName(settings.CheckPath)}: {comparison.Matching} rows match, {comparison.Differing} differ");
            foreach (var line in comparison.FirstDifferences)
            {
                console.Writer.WriteLine("  " + line);
            }
        }

        if (settings.DeliveriesPath is { } path)
        {
            WriteDeliveries(path, rows, console.Writer);
        }

        return replay.Report(matchesReference);
    }

    private static void WriteDeliveries(string path, IReadOnlyList<DeliveryRow> rows, TextWriter human)
    {
        if (path == "-")
        {
            DeliveryCsv.Write(human, rows);
            return;
        }

        using var writer = new StreamWriter(path);
        DeliveryCsv.Write(writer, rows);
    }
}
