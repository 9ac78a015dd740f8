using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Trace;

namespace IpiEngine.Cli.Run;

/// <summary>
/// Runs the K replays of a trace run between display samples and sums what they did: counters, IPIs per mode,
/// latency, time, allocations, assisted passes; keeps the first replay's rows (what <c>--deliveries</c> and <c>--check</c> see).
/// </summary>
internal sealed class TraceReplayLoop
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(250);

    private readonly RunSettings settings;
    private readonly uint[] ids;
    private readonly ExitRecord[] exits;
    private readonly ReplayResult sequential;
    private readonly RunInterruption interruption;
    private readonly LatencyHistogram latency = new();
    private readonly Dictionary<string, long> perMode = [];
    private readonly Dictionary<string, long> rejectedByReason = [];
    private readonly long started = Stopwatch.GetTimestamp();
    private AllocationWindow allocationsBefore;
    private AllocationWindow allocations;
    private long monitorBefore;
    private long monitorAllocated;
    private long replayAllocated; // this (the display's) thread's allocations inside the replays: the replays', not the display's
    private bool windowClosed;
    private TimeSpan replaying;
    private int done;
    private long records;
    private long ipis;
    private long delivered;
    private long coalesced;
    private long rejected;
    private long assistedPasses;
    private long thinPassWaits;
    private bool conservation = true;
    private bool matchesSequential = true;

    public TraceReplayLoop(RunSettings settings, uint[] ids, ExitRecord[] exits, ReplayResult sequential, RunInterruption interruption)
    {
        this.settings = settings;
        this.ids = ids;
        this.exits = exits;
        this.sequential = sequential;
        this.interruption = interruption;
    }

    /// <summary>The first replay's rows: the sequential rows' seq, source, mode and vector with the engine's destinations.</summary>
    public IReadOnlyList<DeliveryRow>? FirstRows { get; private set; }

    /// <summary>The first difference from the sequential replay seen in any loop, or null.</summary>
    public string? FirstDifference { get; private set; }

    /// <summary>The display's poll: runs replays for about a sample's time, returns null when all K are done.</summary>
    public RunProgress? Poll()
    {
        if (done == settings.Loop || (done > 0 && interruption.Requested))
        {
            CloseWindow(); // a Ctrl-C between two polls: the window still closes, or the report read 0 bytes and 0 GCs
            return null;
        }

        if (done == 0)
        {
            monitorBefore = GC.GetAllocatedBytesForCurrentThread();
            allocationsBefore = AllocationWindow.Now();
        }

        var sampleStart = Stopwatch.GetTimestamp();
        do
        {
            // The replay runs on this thread (it builds its engine here): its allocations are the run's, not the display's.
            long before = GC.GetAllocatedBytesForCurrentThread();
            ReplayOnce();
            replayAllocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }
        while (done < settings.Loop && !interruption.Requested && Stopwatch.GetElapsedTime(sampleStart) < SampleEvery);

        if (done == settings.Loop || interruption.Requested)
        {
            CloseWindow();
        }

        var seconds = Math.Max(replaying.TotalSeconds, 1e-9);
        var phase = done == settings.Loop || interruption.Requested ? RunProgress.Done : $"loop {done}/{settings.Loop}";
        return new RunProgress(Stopwatch.GetElapsedTime(started), phase, ipis, delivered + coalesced, rejected, ipis / seconds, (delivered + coalesced) / seconds, 0);
    }

    /// <summary>Once: the run's allocations, and the display thread's own (its allocations outside the replays).</summary>
    private void CloseWindow()
    {
        if (windowClosed)
        {
            return;
        }

        windowClosed = true;
        allocations = AllocationWindow.Between(allocationsBefore, AllocationWindow.Now());
        monitorAllocated = Math.Max(0, GC.GetAllocatedBytesForCurrentThread() - monitorBefore - replayAllocated);
    }

    private void ReplayOnce()
    {
        var result = ConcurrentTraceReplay.Run(ids, exits, EngineNames.Threading(settings.Threading), EngineNames.WaitStrategy(settings.Wait), RingCapacity(settings, ids.Length), sequential.Counters.Destinations, settings.Assist);
        replaying += result.Elapsed;
        var c = result.Counters;
        records += c.Posted;
        ipis += c.IpisResolved + c.Rejected;
        delivered += c.Delivered;
        coalesced += c.Coalesced;
        rejected += c.Rejected;
        assistedPasses += c.AssistedPasses;
        thinPassWaits += c.ThinPassWaits;
        conservation &= c.ConservationHolds;
        foreach (var reason in Enum.GetValues<RejectReason>())
        {
            if (c.RejectedBy(reason) is var n and > 0)
            {
                rejectedByReason[reason.ToString()] = rejectedByReason.GetValueOrDefault(reason.ToString()) + n;
            }
        }

        foreach (var entry in result.Deliveries)
        {
            latency.RecordTicks(entry.PostTimestamp, entry.DeliverTimestamp);
        }

        if (result.FirstDifference(sequential) is { } difference)
        {
            matchesSequential = false;
            FirstDifference ??= $"loop {done + 1}: {difference}";
        }

        var destinations = result.DestinationsBySeq();
        var rows = new List<DeliveryRow>(sequential.Rows.Count);
        foreach (var row in sequential.Rows)
        {
            perMode[row.Mode] = perMode.GetValueOrDefault(row.Mode) + 1;
            rows.Add(new DeliveryRow(row.Seq, row.SourceVcpu, row.Mode, row.Vector, destinations.TryGetValue(row.Seq, out var d) ? d : []));
        }

        FirstRows ??= rows;
        done++;
    }

    /// <summary>--ring-capacity, or the engine's automatic capacity for this many vCPUs (smaller rings for many vCPUs).</summary>
    internal static int RingCapacity(RunSettings settings, int vcpus) => settings.RingCapacity ?? EngineOptions.AutomaticRingCapacity(vcpus);

    /// <summary>The run's report.</summary>
    public RunReport Report(bool? matchesReference)
    {
        var seconds = Math.Max(replaying.TotalSeconds, 1e-9);
        return new RunReport
        {
            Mode = "trace",
            Vcpus = ids.Length,
            Topology = "from the trace",
            Workload = settings.TraceName ?? "trace",
            Threading = settings.Threading,
            Wait = EngineNames.Of(EngineNames.WaitStrategy(settings.Wait)),
            Assist = settings.Threading == "fused" ? settings.Assist : null,
            AssistedPasses = settings.Threading == "fused" ? assistedPasses : null,
            ThinPassWaits = settings.Threading == "inline" ? null : thinPassWaits,
            Batch = 1,
            Loops = done,
            WarmupSeconds = 0,
            DurationSeconds = replaying.TotalSeconds,
            Interrupted = done < settings.Loop,
            Records = records,
            Posted = ipis,
            Delivered = delivered,
            Coalesced = coalesced,
            Rejected = rejected,
            RejectedByReason = rejectedByReason,
            ByDeliveryMode = perMode,
            PostedPerSecond = ipis / seconds,
            IpisPerSecond = (delivered + coalesced) / seconds,
            LatencyNs = latency.Summarize(),
            AllocatedBytes = Math.Max(0, allocations.AllocatedBytes - monitorAllocated),
            DisplayAllocatedBytes = monitorAllocated,
            GcCollections = new GcCounts(allocations.Gen0, allocations.Gen1, allocations.Gen2),
            ConservationHeld = conservation,
            MatchesSequentialReplay = matchesSequential,
            MatchesReference = matchesReference,
            ReferencePath = settings.CheckPath,
        };
    }
}
