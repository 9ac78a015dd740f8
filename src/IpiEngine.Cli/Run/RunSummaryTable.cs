using System.Globalization;
using Spectre.Console;

namespace IpiEngine.Cli.Run;

/// <summary>Renders a <see cref="RunReport"/> as the end-of-run summary table.</summary>
internal static class RunSummaryTable
{
    /// <summary>Writes the summary to <paramref name="console"/>.</summary>
    public static void Write(IAnsiConsole console, RunReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        var table = new Table().Border(TableBorder.Rounded).Title("ipi run: summary")
            .AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());

        var interrupted = report.Interrupted ? " (interrupted)" : string.Empty;
        var assist = report.Assist is { } on ? $", assist {(on ? "on" : "off")} ({Count(report.AssistedPasses ?? 0)} assisted passes)" : string.Empty;
        if (report.Loops is { } loops)
        {
            Row(table, "trace", $"{report.Workload}, {report.Vcpus} vCPUs, each posted in order by one of {Math.Min(report.Vcpus, IpiEngine.Trace.ConcurrentTraceReplay.MaxPosterThreads)} threads");
            Row(table, "engine", $"{report.Threading}, wait {report.Wait}{assist}");
            ThinPassWaitsRow(table, report);
            Row(table, "replays", string.Create(CultureInfo.InvariantCulture, $"{loops} in {report.DurationSeconds:F3} s{interrupted}"));
        }
        else
        {
            Row(table, "scenario", $"{report.Vcpus} vCPUs, {report.Topology}, {report.Workload}");
            var pinned = report.PipelineCpus is { } cpus ? $" on CPUs {string.Join(",", cpus)}" : string.Empty;
            Row(table, "engine", $"{report.Threading}{pinned}, wait {report.Wait}, batch {report.Batch}{assist}");
            ThinPassWaitsRow(table, report);
            Row(table, "measured window", string.Create(CultureInfo.InvariantCulture, $"{report.DurationSeconds:F2} s after {report.WarmupSeconds:F2} s warm-up{interrupted}"));
        }

        Row(table, "runtime's dynamic PGO", report.Runtime.Describe());

        table.AddEmptyRow();
        Row(table, "IPIs posted", Count(report.Posted) + $"  ({Count(report.Records)} records)");
        Row(table, "delivered", Count(report.Delivered));
        Row(table, "coalesced", Count(report.Coalesced));
        Row(table, "rejected", Count(report.Rejected));
        foreach (var (reason, count) in report.RejectedByReason)
        {
            Row(table, $"  rejected: {reason}", Count(count));
        }

        foreach (var (mode, count) in report.ByDeliveryMode)
        {
            Row(table, $"  mode {mode}", Count(count));
        }

        if (report.Inputs is { } inputs)
        {
            Input(table, "ICR writes", inputs.Icr);
            Input(table, "KVM_HC_SEND_IPI calls", inputs.PvIpi);
            Input(table, "MSIs (device threads)", inputs.Msi);
            Input(table, "IOAPIC records (pins, EOIs)", inputs.IoApic);
        }

        if (report.PendingTakes is { } takes)
        {
            Row(table, "vCPU takes of pending interrupts", Count(takes));
        }

        table.AddEmptyRow();
        Row(table, "IPIs/s posted", PlainRunDisplay.Rate(report.PostedPerSecond));
        Row(table, "IPIs/s delivered (incl. coalesced)", PlainRunDisplay.Rate(report.IpisPerSecond));
        var l = report.LatencyNs;
        if (report.ClosedLoop is null)
        {
            Row(table, $"latency p50 / p99 / p99.9 / max ({Count(l.Samples)} sampled deliveries)", l.Samples == 0 ? "no samples" : $"{Ns(l.P50)} / {Ns(l.P99)} / {Ns(l.P999)} / {Ns(l.Max)}");
        }
        if (report.ClosedLoop is { } loop)
        {
            Row(table, "closed loop", $"{loop.Senders} sending vCPUs, ack by {loop.AckPath}");
            Row(table, "round trips", Count(loop.RoundTrips) + $"  ({Count(loop.Acks)} acks)");
            Row(table, "round trips/s", PlainRunDisplay.Rate(loop.RoundTripsPerSecond));
            var r = loop.RoundTripLatencyNs;
            Row(table, "round trip p50 / p99 / p99.9 / max", r.Samples == 0 ? "no samples" : $"{Ns(r.P50)} / {Ns(r.P99)} / {Ns(r.P999)} / {Ns(r.Max)}");
            Row(table, "acks doubled, missing or undue", Count(loop.Violations));
        }

        CpuRows(table, report.Cpu);
        if (report.Baseline is { } probe)
        {
            ReferenceRows(table, "probe", "probe IPIs/s (the bare shape, same invocation)", probe.ProbeIpisPerSecond, probe.EngineToProbe, probe.Cpu,
                probe.ByState.Select(state => (state.State, StateRatio(state))));
            if (probe.Queue is { } queue)
            {
                ReferenceRows(table, "queue", "ConcurrentQueue per vCPU IPIs/s (same invocation)", queue.QueueIpisPerSecond, queue.EngineToQueue, queue.Cpu,
                    queue.ByState.Select(state => (state.State, StateRatio(state))));
            }
        }

        Row(table, report.Loops is null ? "bytes allocated in window" : "bytes allocated (incl. an engine per replay)", Count(report.AllocatedBytes));
        Row(table, "GC gen0 / gen1 / gen2", $"{report.GcCollections.Gen0} / {report.GcCollections.Gen1} / {report.GcCollections.Gen2}");
        Row(table, "conservation", report.ConservationHeld ? "[green]held[/]" : "[red]VIOLATED[/]", markup: true);
        if (report.MatchesSequentialReplay is { } sequential)
        {
            Row(table, "equals sequential replay", sequential ? "[green]yes[/]" : "[red]NO[/]", markup: true);
        }

        if (report.MatchesReference is { } reference)
        {
            Row(table, $"equals {Path.GetFileName(report.ReferencePath)}", reference ? "[green]yes[/]" : "[red]NO[/]", markup: true);
        }

        console.Write(table);
    }

    private static void Input(Table table, string name, InputKindCounts counts)
        => Row(table, $"  {name}: posted = resolved + rejected" + (counts.StateOnly != 0 ? " + state only" : ""),
            $"{Count(counts.Posted)} = {Count(counts.Resolved)} + {Count(counts.Rejected)}" + (counts.StateOnly != 0 ? $" + {Count(counts.StateOnly)}" : "")
            + (counts.Held ? "" : "  VIOLATED"));

    /// <summary>The gathering thread's waits for streaming records (none in inline mode, which has no such thread).</summary>
    private static void ThinPassWaitsRow(Table table, RunReport report)
    {
        if (report.ThinPassWaits is { } waits)
        {
            Row(table, "thin passes followed by a wait (records streaming)", Count(waits));
        }
    }

    /// <summary>Where the window's CPU time went: cores by role, and each side's CPU time per posted IPI.</summary>
    private static void CpuRows(Table table, ThreadCpu? cpu)
    {
        if (cpu is null)
        {
            return;
        }

        var devices = cpu.DeviceSeconds > 0 ? " / devices" : string.Empty;
        var deviceCores = cpu.DeviceSeconds > 0 ? string.Create(CultureInfo.InvariantCulture, $" / {cpu.DeviceCores:F2}") : string.Empty;
        Row(table, $"CPU cores: pipeline / vCPU threads{devices} / other", string.Create(CultureInfo.InvariantCulture, $"{cpu.PipelineCores:F2} / {cpu.VcpuCores:F2}{deviceCores} / {cpu.OtherCores:F2}"));
        if (cpu.PipelineNsPerIpi is { } pipeline && cpu.VcpuNsPerIpi is { } vcpus)
        {
            Row(table, "CPU per posted IPI: pipeline / vCPU threads", string.Create(CultureInfo.InvariantCulture, $"{pipeline:F1} ns / {vcpus:F1} ns"));
        }
    }

    /// <summary>
    /// A reference rig's rows: its rate, the engine's over it in all slices, its CPU over its turns (cores, then ns per
    /// record, as the engine's rows say it), and the engine against it per core state.
    /// </summary>
    private static void ReferenceRows(Table table, string rig, string rateName, double rate, double engineToRig, ReferenceCpu? cpu, IEnumerable<(Perf.Calibration.CoreDistanceState State, string Ratio)> states)
    {
        Row(table, rateName, PlainRunDisplay.Rate(rate));
        Row(table, $"engine / {rig} (all slices)", string.Create(CultureInfo.InvariantCulture, $"{engineToRig:F2}"));
        if (cpu is { ConsumerNsPerRecord: { } consumer, ProducerNsPerRecord: { } producers })
        {
            Row(table, $"{rig} CPU: consumer / producers", string.Create(CultureInfo.InvariantCulture, $"{cpu.ConsumerCores:F2} / {cpu.ProducerCores:F2} cores, {consumer:F1} ns / {producers:F1} ns per record"));
        }

        foreach (var (state, ratio) in states)
        {
            Row(table, $"engine / {rig}, {state.ToString().ToLowerInvariant()} slices", ratio);
        }
    }

    private static void Row(Table table, string name, string value, bool markup = false)
        => table.AddRow(new Text(name), markup ? new Markup(value) : new Text(value));

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>One core state's comparison: the ratio and both rates, with how many slices each came from.</summary>
    private static string StateRatio(QueueState state)
        => Ratio(state.EngineToQueue, state.EngineIpisPerSecond, state.QueueIpisPerSecond, state.EngineSlices, state.QueueSlices, "queue");

    private static string StateRatio(BaselineState state)
        => Ratio(state.EngineToProbe, state.EngineIpisPerSecond, state.ProbeIpisPerSecond, state.EngineSlices, state.ProbeSlices, "probe");

    private static string Ratio(double? engineToReference, double? engineRate, double? referenceRate, int engineSlices, int referenceSlices, string reference)
    {
        if (engineToReference is not { } ratio)
        {
            return $"no comparison ({engineSlices} engine and {referenceSlices} {reference} slices in this state)";
        }

        return string.Create(CultureInfo.InvariantCulture, $"{ratio:F2}  ({PlainRunDisplay.Rate(engineRate!.Value)} / {PlainRunDisplay.Rate(referenceRate!.Value)}, {engineSlices} and {referenceSlices} slices)");
    }

    private static string Ns(long ns)
        => ns >= 1_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{ns / 1e6:F2} ms")
            : ns >= 1_000 ? string.Create(CultureInfo.InvariantCulture, $"{ns / 1e3:F1} µs")
            : string.Create(CultureInfo.InvariantCulture, $"{ns} ns");
}
