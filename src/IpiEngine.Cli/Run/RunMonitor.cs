using System.Diagnostics;
using IpiEngine.Cli.Machine;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// The main thread's side of a synthetic run: samples the warm-up engine until the warm-up is over, stops it, opens the
/// measured window (snapshots, then the vCPU threads start posting), wakes a few times a second to hand the display a
/// sample, and closes the window (the vCPU threads stop, the engine drains, snapshots again) when the duration is up,
/// the count is posted, or the user presses Ctrl-C. With <c>--baseline</c> the window is cut into slices
/// (<see cref="BaselineSlices"/>): at the end of each the vCPU threads park, the engine drains, the probe takes its turn,
/// and the vCPU threads resume; the window, its counts and its allocations are those of the engine's slices only.
/// </summary>
internal sealed class RunMonitor
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan CheckEvery = TimeSpan.FromMilliseconds(2);

    private readonly Engine engine;
    private readonly WorkloadDriver driver;
    private readonly RunSettings settings;
    private readonly RunInterruption interruption;
    private readonly long ringCapacityTotal;
    private readonly long started = Stopwatch.GetTimestamp();
    private readonly WarmUpRun? warmUp;
    private readonly BaselineSlices? baseline;
    private EngineCounters previous;
    private long previousAt;
    private bool previousFromWarmUp;
    private bool measuring;
    private bool done;
    private long windowOpened;

    // The engine's slice in progress, and the slices closed so far (one slice for the whole window without --baseline).
    private long sliceStarted;
    private EngineCounters sliceStartCounters;
    private AllocationWindow sliceAllocationsBefore;
    private long sliceMonitorBefore;
    private double slicesSeconds;
    private AllocationWindow slicesAllocations;
    private long slicesMonitorAllocated;
    private readonly ThreadCpuTimes? threads; // the run's threads, listed before the warm-up: re-read without allocating
    private readonly long[] sliceStartTicks;
    private readonly long[] sliceEndTicks;
    private readonly double[] slicesCpu = new double[ThreadCpuTimes.RoleCount];
    private bool stalled;

    public RunMonitor(Engine engine, WorkloadDriver driver, RunSettings settings, RunInterruption interruption, long ringCapacityTotal, WarmUpRun? warmUp, BaselineSlices? baseline = null)
    {
        this.engine = engine;
        this.driver = driver;
        this.settings = settings;
        this.interruption = interruption;
        this.ringCapacityTotal = ringCapacityTotal;
        this.warmUp = warmUp;
        this.baseline = baseline;
        previousAt = started;

        // Every thread of the measured run exists now (the engine started, the vCPU threads wait to post), and the runtime
        // promotes what the listing called during the warm-up, not in the window (ThreadCpuTimes' remarks).
        threads = ThreadCpuTimes.TryList();
        sliceStartTicks = new long[threads?.Count ?? 0];
        sliceEndTicks = new long[threads?.Count ?? 0];
    }

    /// <summary>Counters when the window opened.</summary>
    public EngineCounters WindowStart { get; private set; }

    /// <summary>Counters when the window closed (vCPUs stopped, everything posted processed).</summary>
    public EngineCounters WindowEnd { get; private set; }

    /// <summary>Allocations and collections over the window, every thread but this monitoring one.</summary>
    public AllocationWindow Allocations { get; private set; }

    /// <summary>What this monitoring thread itself allocated in the window (the display), excluded from <see cref="Allocations"/>.</summary>
    public long MonitorAllocatedBytes { get; private set; }

    /// <summary>
    /// CPU seconds the run's threads used over the engine's slices, by <see cref="ThreadRole"/>: each slice from its
    /// opening to the vCPUs' pause (after the drain) or stop (before the final drain); null where the counters cannot be read.
    /// </summary>
    public double[]? CpuSeconds => threads is null ? null : slicesCpu;

    /// <summary>True when everything posted in the window was processed before the summary (false: a stall).</summary>
    public bool Drained { get; private set; }

    /// <summary>The <see cref="Stopwatch"/> timestamp at which the window opened.</summary>
    public long WindowOpenedAt => windowOpened;

    /// <summary>The window's length: the engine's slices (each from its posting's start to the end of its drain).</summary>
    public TimeSpan Window { get; private set; }

    /// <summary>True when Ctrl-C ended the run.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>The display's poll: blocks until the next sample, returns null once the run is over.</summary>
    public RunProgress? Poll()
    {
        if (done)
        {
            return null;
        }

        if (!measuring)
        {
            var toWindow = settings.EffectiveWarmup - Stopwatch.GetElapsedTime(started);
            if (warmUp is not null && toWindow > TimeSpan.Zero && !interruption.Requested)
            {
                Thread.Sleep(toWindow < SampleEvery ? toWindow : SampleEvery);
                return Sample("warm-up", warmUp.Engine);
            }

            warmUp?.Finish();
            OpenWindow();
            return Sample("measuring");
        }

        while (true)
        {
            // Wake often enough that a counted run's end is seen within milliseconds, but sample only every SampleEvery.
            var sampleDue = Stopwatch.GetTimestamp() + (long)(SampleEvery.TotalSeconds * Stopwatch.Frequency);
            while (!WindowOver() && !SliceOver() && Stopwatch.GetTimestamp() < sampleDue)
            {
                Thread.Sleep(CheckEvery);
            }

            if (WindowOver())
            {
                break;
            }

            if (!SliceOver())
            {
                return Sample("measuring");
            }

            TakeProbeTurn();
        }

        CloseWindow();
        done = true;
        return Sample(RunProgress.Done);
    }

    private bool WindowOver()
        => interruption.Requested || driver.AllFinished
            || (settings.Count is null && TimeSpan.FromSeconds(slicesSeconds) + Stopwatch.GetElapsedTime(sliceStarted) >= settings.Duration);

    private bool SliceOver() => baseline is not null && Stopwatch.GetElapsedTime(sliceStarted) >= BaselineSlices.SliceLength;

    private void OpenWindow()
    {
        baseline?.BeforeEngineSlice();
        WindowStart = engine.ReadCounters();
        BeginSlice(WindowStart);
        windowOpened = sliceStarted;
        driver.BeginPosting();
        measuring = true;
    }

    /// <summary>
    /// <c>--baseline</c>: parks the vCPU threads, lets the engine drain, closes the slice, lets the probe take its turn
    /// (between core-distance readings), and resumes the vCPU threads in a new slice.
    /// </summary>
    private void TakeProbeTurn()
    {
        driver.Pause();
        stalled |= !EngineQuiescence.Wait(engine);
        var counters = engine.ReadCounters();
        AddSliceCpu(); // the vCPU threads parked, alive
        var seconds = EndSlice();
        baseline!.AfterEngineSlice(seconds, Destinations(counters) - Destinations(sliceStartCounters));
        BeginSlice(counters);
        previous = counters; // the display's next rate counts from the resumption, not across the probe's turn
        previousAt = sliceStarted;
        driver.Resume();
    }

    private void BeginSlice(in EngineCounters counters)
    {
        threads?.ReadTicks(sliceStartTicks); // allocates nothing
        sliceMonitorBefore = GC.GetAllocatedBytesForCurrentThread();
        sliceAllocationsBefore = AllocationWindow.Now();
        sliceStartCounters = counters;
        sliceStarted = Stopwatch.GetTimestamp();
    }

    /// <summary>Adds the slice in progress (its vCPU threads parked or stopped, the engine drained) to the window; returns its length in seconds.</summary>
    private double EndSlice()
    {
        var seconds = Stopwatch.GetElapsedTime(sliceStarted).TotalSeconds;
        slicesSeconds += seconds;
        slicesAllocations += AllocationWindow.Between(sliceAllocationsBefore, AllocationWindow.Now());
        slicesMonitorAllocated += GC.GetAllocatedBytesForCurrentThread() - sliceMonitorBefore;
        return seconds;
    }

    /// <summary>Adds the CPU seconds the run's threads used since the slice began (allocates nothing: inside the window).</summary>
    private void AddSliceCpu()
    {
        if (threads is not null)
        {
            threads.ReadTicks(sliceEndTicks);
            threads.AddSecondsBetween(sliceStartTicks, sliceEndTicks, slicesCpu);
        }
    }

    private static long Destinations(in EngineCounters c) => c.Delivered + c.Coalesced + c.Forwarded;

    private void CloseWindow()
    {
        Interrupted = interruption.Requested;
        AddSliceCpu(); // before the stop ends the vCPU threads (an ended thread's time can no longer be read)
        driver.Stop();
        Drained = EngineQuiescence.Wait(engine) && !stalled;
        WindowEnd = engine.ReadCounters();
        var seconds = EndSlice();
        Window = TimeSpan.FromSeconds(slicesSeconds);
        MonitorAllocatedBytes = slicesMonitorAllocated;
        Allocations = slicesAllocations with { AllocatedBytes = Math.Max(0, slicesAllocations.AllocatedBytes - MonitorAllocatedBytes) };
        if (baseline is not null && !Interrupted)
        {
            baseline.AfterEngineSlice(seconds, Destinations(WindowEnd) - Destinations(sliceStartCounters)); // the probe's last turn
        }
    }

    private static long Ipis(in EngineCounters c) => c.IpisResolved + c.Rejected;

    private RunProgress Sample(string phase, Engine? sampled = null)
    {
        var now = Stopwatch.GetTimestamp();
        var current = (sampled ?? engine).ReadCounters();
        if (sampled is null && previousFromWarmUp)
        {
            previous = default; // the measured engine's counters start from zero
            previousFromWarmUp = false;
        }

        previousFromWarmUp |= sampled is not null;
        var seconds = Math.Max(1e-9, (now - previousAt) / (double)Stopwatch.Frequency);
        var progress = new RunProgress(
            Stopwatch.GetElapsedTime(started),
            phase,
            Ipis(current),
            current.Delivered + current.Coalesced,
            current.Rejected,
            (Ipis(current) - Ipis(previous)) / seconds,
            (current.Delivered + current.Coalesced - previous.Delivered - previous.Coalesced) / seconds,
            ringCapacityTotal == 0 ? 0 : Math.Clamp(current.InFlight / (double)ringCapacityTotal, 0, 1));
        previous = current;
        previousAt = now;
        return progress;
    }
}
