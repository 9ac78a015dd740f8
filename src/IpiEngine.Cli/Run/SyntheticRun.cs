using System.Globalization;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Perf.Probe;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// A generated workload through the engine: a warm-up on a throw-away engine (JIT tiering and first-time paths
/// allocate; the code they leave behind is shared), then a fresh engine: bring-up, the measured window, drain, report.
/// Latency comes from the measured engine's delivery log, which keeps a uniform sample of
/// <see cref="RunSettings.LatencySamples"/> of all its deliveries (a log of every delivery of a 10 s run would need
/// gigabytes); those posted in the window count.
/// </summary>
internal static class SyntheticRun
{
    /// <summary>IPIs generated over all the vCPUs' scripts, at most (bounds their memory); each script loops.</summary>
    private const int ScriptBudgetIpis = 1 << 20;

    /// <summary>Interrupts generated per device thread at most; each device's script loops too.</summary>
    private const int DeviceScriptIpis = 16384;

    /// <summary>
    /// vCPUs of the warm-up, at most: enough to run every code path (and its contention) the measured run takes, without
    /// a second set of thousands of threads to start and stop (on a busy 2-core machine, 4,096 took 5 s to start and
    /// about as long to stop, all before the window opened).
    /// </summary>
    private const int WarmUpVcpus = StartUpProgress.ReportFrom;

    /// <summary>Runs the workload and reports.</summary>
    public static RunReport Execute(RunSettings settings, RunConsole console, RunInterruption interruption)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(interruption);
        var script = Generate(settings);
        var warmup = settings.EffectiveWarmup;
        using var baseline = settings.Baseline ? StartBaseline(settings, warmup, console) : null;
        using var warmUp = warmup > TimeSpan.Zero ? WarmUp(settings, script) : null;

        // The sample may include bring-up deliveries and ones posted before the window opened: they are skipped below.
        using var engine = new Engine(Options(settings, settings.LatencySamples, DeliveryLogMode.Sample));
        engine.Start();
        var driver = new WorkloadDriver(engine, script, settings.Batch, settings.Count, settings.Rate);
        driver.PostBringUp();
        EngineQuiescence.Wait(engine);
        // Every thread starts before any posts: starting hundreds of threads while hundreds of others keep the cores busy
        // took minutes (each start waits for the new thread to be scheduled). Until the window opens they wait blocked.
        var startUp = new StartUpProgress(console.Writer, settings.Vcpus);
        startUp.Explain();
        driver.Start();
        startUp.End();
        warmUp?.Begin();
        var monitor = new RunMonitor(engine, driver, settings, interruption, (long)settings.Vcpus * RingCapacity(settings), warmUp, baseline);
        try
        {
            console.Display($"ipi run: {settings.Vcpus} vCPUs, {settings.Topology.Name}, {settings.Mix.Name}", settings.Plain).Show(monitor.Poll);
        }
        finally
        {
            driver.Stop(); // the vCPU threads end before the engine they post to (idempotent after the monitor's stop)
            warmUp?.Finish();
        }

        engine.Stop();
        var final = engine.ReadCounters();
        var latency = new LatencyHistogram();
        foreach (ref readonly var entry in engine.DeliveryLog is { } log ? log.Entries : [])
        {
            if (entry.PostTimestamp >= monitor.WindowOpenedAt)
            {
                latency.RecordTicks(entry.PostTimestamp, entry.DeliverTimestamp);
            }
        }

        return Report(settings, warmup, monitor, final, latency.Summarize(), driver, script, baseline);
    }

    /// <summary>
    /// <c>--baseline</c>: the probe reference rig (see <see cref="ProbeRig"/>) with the run's vCPU count, batch and ring
    /// capacity, warmed up before the engine's warm-up; it takes turns with the engine in the measured window.
    /// </summary>
    private static BaselineSlices StartBaseline(RunSettings settings, TimeSpan warmup, RunConsole console)
    {
        var shape = string.Create(CultureInfo.InvariantCulture, $"({settings.Vcpus} vCPUs, batch {settings.Batch})");
        var references = settings.BaselineQueue ? $", the probe {shape} and a ConcurrentQueue per vCPU (one record per call)" : $" and the probe {shape}";
        console.Writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ipi run: --baseline: the engine{references} take turns of {BaselineSlices.SliceLength.TotalSeconds:0.###} s, each between two core-distance readings"));
        return BaselineSlices.Start(settings.Vcpus, settings.Batch, RingCapacity(settings), warmup, settings.BaselineQueue);
    }

    /// <summary>The warm-up: the same workload and engine options, on at most <see cref="WarmUpVcpus"/> vCPUs.</summary>
    private static WarmUpRun WarmUp(RunSettings settings, WorkloadScript script)
    {
        if (settings.Vcpus <= WarmUpVcpus)
        {
            return new WarmUpRun(Options(settings, 0), script, settings);
        }

        var small = settings with { Vcpus = WarmUpVcpus, Count = null };
        return new WarmUpRun(Options(small, 0), Generate(small), small);
    }

    private static WorkloadScript Generate(RunSettings settings)
    {
        var choice = settings.Topology;
        ApicTopology topology;
        try
        {
            topology = ApicTopology.Configure(settings.Vcpus, choice.Kind, choice.SparseIds);
        }
        catch (ArgumentException e)
        {
            throw new RunInputException($"--topology {choice.Name} cannot hold {settings.Vcpus} vCPUs: {e.Message.Split(" (Parameter", 2)[0]}");
        }

        var ipisPerVcpu = Math.Clamp(ScriptBudgetIpis / settings.Vcpus, 64, 16384);
        var ipisPerDevice = DeviceScriptIpis;
        if (settings.Count is { } count)
        {
            ipisPerVcpu = (int)Math.Clamp(count / settings.Vcpus + 1, 1, ipisPerVcpu);
            ipisPerDevice = (int)Math.Clamp(count / Math.Max(1, settings.Devices) + 1, 1, ipisPerDevice);
        }

        return WorkloadGenerator.Generate(VcpuAddressBook.From(topology, choice.Kind), settings.Mix, settings.Seed, ipisPerVcpu, settings.Devices, ipisPerDevice);
    }

    /// <summary>
    /// The engine of a run. Posts are stamped only when deliveries are logged (<paramref name="logCapacity"/> above 0): a
    /// stamp is a clock read per post (about 21 ns here), which a run with <c>--latency-samples 0</c> would pay for nothing.
    /// </summary>
    internal static EngineOptions Options(RunSettings settings, int logCapacity, DeliveryLogMode logMode = DeliveryLogMode.First) => new()
    {
        DeliveryLogMode = logMode,
        DeviceSources = settings.Devices,
        Topology = ApicTopology.Configure(settings.Vcpus, settings.Topology.Kind, settings.Topology.SparseIds),
        ThreadingMode = EngineNames.Threading(settings.Threading),
        StampPostTime = logCapacity > 0, // the log's latency needs the post time (Inline would not stamp by default); no log, no clock read
        WaitStrategy = EngineNames.WaitStrategy(settings.Wait),
        AssistIdlePipeline = settings.Assist,
        PipelineCpus = settings.PipelineCpus,
        RingCapacity = RingCapacity(settings),
        DeliveryLogCapacity = logCapacity,
        Name = "ipi-run",
    };

    private static int RingCapacity(RunSettings settings) => TraceReplayLoop.RingCapacity(settings, settings.Vcpus);

    private static RunReport Report(RunSettings settings, TimeSpan warmup, RunMonitor monitor, in EngineCounters final, LatencySummary latency, WorkloadDriver driver, WorkloadScript script, BaselineSlices? baseline)
    {
        var start = monitor.WindowStart;
        var end = monitor.WindowEnd;
        var seconds = Math.Max(monitor.Window.TotalSeconds, 1e-9);
        var ipis = end.IpisResolved - start.IpisResolved + end.Rejected - start.Rejected;
        var destinations = end.Delivered - start.Delivered + end.Coalesced - start.Coalesced + end.Forwarded - start.Forwarded;
        var inputs = script.Devices is null ? null : InputKinds.Of(script, driver, start, end);
        var perMode = new long[8];
        for (var v = 0; v < script.Vcpus.Length; v++)
        {
            script.Vcpus[v].CountFiringByMode(driver.PostedIpisOf(v), perMode);
        }

        return new RunReport
        {
            Mode = "synthetic",
            Vcpus = settings.Vcpus,
            Topology = settings.Topology.Name,
            Workload = settings.Mix.Name,
            Threading = settings.Threading,
            Wait = EngineNames.Of(EngineNames.WaitStrategy(settings.Wait)),
            Assist = settings.Threading == "fused" ? settings.Assist : null,
            PipelineCpus = settings.PipelineCpus,
            AssistedPasses = end.AssistedPasses - start.AssistedPasses,
            ThinPassWaits = settings.Threading == "inline" ? null : end.ThinPassWaits - start.ThinPassWaits,
            Batch = settings.Batch,
            Seed = settings.Seed,
            OfferedRate = settings.Rate,
            WarmupSeconds = warmup.TotalSeconds,
            DurationSeconds = monitor.Window.TotalSeconds,
            Interrupted = monitor.Interrupted,
            Records = end.Posted - start.Posted,
            Posted = ipis,
            Delivered = end.Delivered - start.Delivered,
            Coalesced = end.Coalesced - start.Coalesced,
            Rejected = end.Rejected - start.Rejected,
            RejectedByReason = RunCounts.RejectedByReason(start, end),
            ByDeliveryMode = RunCounts.ByMode(perMode),
            PendingTakes = driver.TakenInterrupts,
            PostedPerSecond = ipis / seconds,
            IpisPerSecond = destinations / seconds,
            LatencyNs = latency,
            AllocatedBytes = monitor.Allocations.AllocatedBytes,
            DisplayAllocatedBytes = monitor.MonitorAllocatedBytes,
            GcCollections = new GcCounts(monitor.Allocations.Gen0, monitor.Allocations.Gen1, monitor.Allocations.Gen2),
            Cpu = ThreadCpu.From(monitor.CpuSeconds, monitor.Window.TotalSeconds, ipis),
            Baseline = baseline?.Summarize(destinations / seconds),

            Inputs = inputs,
            MatchesSequentialReplay = inputs is null ? null
                : InputKinds.MatchesSequentialReplay(script, driver, ApicTopology.Configure(settings.Vcpus, settings.Topology.Kind, settings.Topology.SparseIds), inputs),

            // Nothing lost anywhere: the engine accounts for every record and destination over its whole life, the
            // window drained, and the IPIs the vCPU (and device) threads say they posted are the ones the engine resolved
            // or rejected, per input kind too.
            ConservationHeld = final.ConservationHolds && monitor.Drained && driver.PostedIpis == ipis && inputs?.Held != false,
        };
    }
}
