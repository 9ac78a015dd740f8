using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Cli.Machine;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// A closed-loop workload through the engine (<c>--workload call-single|tlb-shootdown|ping-pong</c>): a warm-up on a
/// throw-away engine, then a fresh engine: bring-up (INIT/SIPI to the APs), the measured round trips, drain, report.
/// See <see cref="ClosedLoopDriver"/> for what a vCPU does and how the ack travels.
/// </summary>
internal static class ClosedLoopRun
{
    /// <summary>The workload names, as <c>--workload</c> takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["call-single", "tlb-shootdown", "ping-pong"];

    /// <summary>The kind a <c>--workload</c> name stands for, or null when it is not a closed-loop workload.</summary>
    public static ClosedLoopKind? Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "call-single" => ClosedLoopKind.CallSingle,
        "tlb-shootdown" => ClosedLoopKind.TlbShootdown,
        "ping-pong" => ClosedLoopKind.PingPong,
        _ => null,
    };

    /// <summary>The name of <paramref name="kind"/>.</summary>
    public static string NameOf(ClosedLoopKind kind) => Names[(int)kind];

    /// <summary>Runs the workload and reports.</summary>
    public static RunReport Execute(RunSettings settings, RunConsole console, RunInterruption interruption)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(interruption);
        var kind = settings.ClosedLoop ?? throw new ArgumentException("Not a closed-loop run.", nameof(settings));
        var addresses = Addresses(settings);
        var warmup = settings.EffectiveWarmup;
        if (warmup > TimeSpan.Zero)
        {
            using var warmUpEngine = new Engine(Options(settings));
            Measure(warmUpEngine, addresses, kind, settings with { Count = null, Duration = warmup }, interruption);
        }

        console.Writer.WriteLine($"ipi run: {NameOf(kind)} closed loop, {settings.Vcpus} vCPUs, {settings.Topology.Name}, "
            + (settings.Count is { } c ? $"{c} round trips" : $"{settings.Duration.TotalSeconds:0.###} s"));
        using var engine = new Engine(Options(settings));
        var m = Measure(engine, addresses, kind, settings, interruption);
        var seconds = Math.Max(m.Seconds, 1e-9);
        var ipis = m.End.IpisResolved - m.Start.IpisResolved + m.End.Rejected - m.Start.Rejected;
        var rejected = m.End.Rejected - m.Start.Rejected;
        var destinations = m.End.Delivered - m.Start.Delivered + m.End.Coalesced - m.Start.Coalesced;
        return new RunReport
        {
            Mode = "closed-loop",
            Vcpus = settings.Vcpus,
            Topology = settings.Topology.Name,
            Workload = NameOf(kind),
            Threading = settings.Threading,
            Wait = EngineNames.Of(EngineNames.WaitStrategy(settings.Wait)),
            Assist = settings.Threading == "fused" ? settings.Assist : null,
            PipelineCpus = settings.PipelineCpus,
            AssistedPasses = m.End.AssistedPasses - m.Start.AssistedPasses,
            ThinPassWaits = settings.Threading == "inline" ? null : m.End.ThinPassWaits - m.Start.ThinPassWaits,
            Batch = 1,
            Seed = settings.Seed,
            WarmupSeconds = warmup.TotalSeconds,
            DurationSeconds = m.Seconds,
            Interrupted = interruption.Requested,
            Records = m.End.Posted - m.Start.Posted,
            Posted = ipis,
            Delivered = m.End.Delivered - m.Start.Delivered,
            Coalesced = m.End.Coalesced - m.Start.Coalesced,
            Rejected = rejected,
            RejectedByReason = RunCounts.RejectedByReason(m.Start, m.End),
            ByDeliveryMode = RunCounts.ByMode([ipis - rejected]), // every closed-loop IPI is FIXED
            PendingTakes = m.Driver.IpisTaken,
            PostedPerSecond = ipis / seconds,
            IpisPerSecond = destinations / seconds,
            LatencyNs = new LatencySummary(0, 0, 0, 0, 0), // post-to-delivery is not logged: the round trip is the measure
            AllocatedBytes = m.Allocations.AllocatedBytes,
            GcCollections = new GcCounts(m.Allocations.Gen0, m.Allocations.Gen1, m.Allocations.Gen2),
            Cpu = ThreadCpu.From(m.CpuSeconds, m.WindowSeconds, ipis),
            ClosedLoop = new ClosedLoopSummary(
                kind == ClosedLoopKind.PingPong ? "answer IPI" : "shared flag (request mask + outstanding count)",
                m.Driver.Senders,
                m.RoundTrips,
                m.RoundTrips / seconds,
                m.Latency,
                m.Driver.AcksServed,
                m.Driver.Violations),

            // Exactly once: the engine accounts for every record and destination, the vCPUs' posts are the IPIs it
            // resolved, nothing was rejected, and no ack was doubled, missing or undue.
            ConservationHeld = m.Final.ConservationHolds && m.Drained && m.Driver.PostedIpis == ipis && rejected == 0 && m.Driver.Violations == 0,
        };
    }

    private static Measurement Measure(Engine engine, VcpuAddressBook addresses, ClosedLoopKind kind, RunSettings settings, RunInterruption interruption)
    {
        engine.Start();
        var bringUp = WorkloadGenerator.Generate(addresses, WorkloadMix.Unicast, settings.Seed, 1).BringUp;
        if (bringUp.Length > 0)
        {
            engine.PostBatch(0, bringUp);
        }

        EngineQuiescence.Wait(engine);
        using var driver = new ClosedLoopDriver(engine, addresses, kind, settings.Count, settings.Seed);
        driver.Start();
        var threads = ThreadCpuTimes.TryList(); // the vCPU threads exist, waiting: listed (allocating) before the window
        var (startTicks, endTicks) = (new long[threads?.Count ?? 0], new long[threads?.Count ?? 0]);
        var counters = engine.ReadCounters();
        var allocations = AllocationWindow.Now();
        threads?.ReadTicks(startTicks); // allocates nothing
        var start = Stopwatch.GetTimestamp();
        driver.Go();
        var (progress, progressAt) = (0L, start);
        while (!driver.SendersFinished)
        {
            if (interruption.Requested || (settings.Count is null && Stopwatch.GetElapsedTime(start) >= settings.Duration))
            {
                driver.Stop();
            }

            var now = Stopwatch.GetTimestamp();
            if (driver.RoundTrips is var trips && trips != progress)
            {
                (progress, progressAt) = (trips, now);
            }
            else if (Stopwatch.GetElapsedTime(progressAt, now) > EngineQuiescence.Patience)
            {
                driver.Abandon(); // no round trip ended for that long: an ack was lost; end the run and report it
            }

            Thread.Sleep(1);
        }

        var end = Stopwatch.GetTimestamp();
        threads?.ReadTicks(endTicks); // before the vCPU threads end
        var window = AllocationWindow.Between(allocations, AllocationWindow.Now());
        var cpu = threads is null ? null : new double[ThreadCpuTimes.RoleCount];
        threads?.AddSecondsBetween(startTicks, endTicks, cpu);
        var latency = driver.Join();
        var drained = EngineQuiescence.Wait(engine);
        var endCounters = engine.ReadCounters();
        engine.Stop();
        var windowSeconds = Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        var seconds = driver.SendingSeconds is > 0 and var sending ? sending : windowSeconds;
        return new Measurement(driver, counters, endCounters, engine.ReadCounters(), drained, seconds, windowSeconds, driver.RoundTrips, latency, window, cpu);
    }

    private static VcpuAddressBook Addresses(RunSettings settings)
    {
        try
        {
            var topology = ApicTopology.Configure(settings.Vcpus, settings.Topology.Kind, settings.Topology.SparseIds);
            return VcpuAddressBook.From(topology, settings.Topology.Kind);
        }
        catch (ArgumentException e)
        {
            throw new RunInputException($"--topology {settings.Topology.Name} cannot hold {settings.Vcpus} vCPUs: {e.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static EngineOptions Options(RunSettings settings) => new()
    {
        Topology = ApicTopology.Configure(settings.Vcpus, settings.Topology.Kind, settings.Topology.SparseIds),
        ThreadingMode = EngineNames.Threading(settings.Threading),
        WaitStrategy = EngineNames.WaitStrategy(settings.Wait),
        AssistIdlePipeline = settings.Assist,
        PipelineCpus = settings.PipelineCpus,
        RingCapacity = settings.RingCapacity ?? new EngineOptions().RingCapacity,
        Name = "ipi-run",
    };

    private sealed record Measurement(
        ClosedLoopDriver Driver,
        EngineCounters Start,
        EngineCounters End,
        EngineCounters Final,
        bool Drained,
        double Seconds, // first post to last round trip's end
        double WindowSeconds, // the controller's window, which the threads' CPU times cover
        long RoundTrips,
        LatencySummary Latency,
        AllocationWindow Allocations,
        double[]? CpuSeconds);
}

/// <summary>What a closed-loop run measured (JSON <c>closedLoop</c>).</summary>
/// <param name="AckPath">How the ack travels back to the sender.</param>
/// <param name="Senders">vCPUs that send and wait.</param>
/// <param name="RoundTrips">Round trips completed in the window.</param>
/// <param name="RoundTripsPerSecond">Round trips per second of the window, over all senders.</param>
/// <param name="RoundTripLatencyNs">Post to "the sender sees the last ack", in nanoseconds.</param>
/// <param name="Acks">Acks the targets gave (ping-pong: answers sent).</param>
/// <param name="Violations">Doubled, missing or undue acks: 0 on a sound run.</param>
internal sealed record ClosedLoopSummary(string AckPath, int Senders, long RoundTrips, double RoundTripsPerSecond, LatencySummary RoundTripLatencyNs, long Acks, long Violations);
