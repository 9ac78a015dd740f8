using System.Diagnostics;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Run;

/// <summary>
/// The main thread's side of a synthetic run: samples the warm-up engine until the warm-up is over, stops it, opens the
/// measured window (snapshots, then the vCPU threads start posting), wakes a few times a second to hand the display a
/// sample, and closes the window (the vCPU threads stop, the engine drains, snapshots again) when the duration is up,
/// the count is posted, or the user presses Ctrl-C.
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
    private EngineCounters previous;
    private long previousAt;
    private bool previousFromWarmUp;
    private bool measuring;
    private bool done;
    private AllocationWindow allocationsBefore;
    private long monitorBefore;
    private long windowOpened;

    public RunMonitor(Engine engine, WorkloadDriver driver, RunSettings settings, RunInterruption interruption, long ringCapacityTotal, WarmUpRun? warmUp)
    {
        this.engine = engine;
        this.driver = driver;
        this.settings = settings;
        this.interruption = interruption;
        this.ringCapacityTotal = ringCapacityTotal;
        this.warmUp = warmUp;
        previousAt = started;
    }

    /// <summary>Counters when the window opened.</summary>
    public EngineCounters WindowStart { get; private set; }

    /// <summary>Counters when the window closed (vCPUs stopped, everything posted processed).</summary>
    public EngineCounters WindowEnd { get; private set; }

    /// <summary>Allocations and collections over the window, every thread but this monitoring one.</summary>
    public AllocationWindow Allocations { get; private set; }

    /// <summary>What this monitoring thread itself allocated in the window (the display), excluded from <see cref="Allocations"/>.</summary>
    public long MonitorAllocatedBytes { get; private set; }

    /// <summary>True when everything posted in the window was processed before the summary (false: a stall).</summary>
    public bool Drained { get; private set; }

    /// <summary>The <see cref="Stopwatch"/> timestamp at which the window opened.</summary>
    public long WindowOpenedAt => windowOpened;

    /// <summary>The window's length.</summary>
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

        // Wake often enough that a counted run's end is seen within milliseconds, but sample only every SampleEvery.
        var sampleDue = Stopwatch.GetTimestamp() + (long)(SampleEvery.TotalSeconds * Stopwatch.Frequency);
        while (!WindowOver() && Stopwatch.GetTimestamp() < sampleDue)
        {
            Thread.Sleep(CheckEvery);
        }

        if (!WindowOver())
        {
            return Sample("measuring");
        }

        CloseWindow();
        done = true;
        return Sample(RunProgress.Done);
    }

    private bool WindowOver()
        => interruption.Requested || driver.AllFinished
            || (settings.Count is null && Stopwatch.GetElapsedTime(windowOpened) >= settings.Duration);

    private void OpenWindow()
    {
        monitorBefore = GC.GetAllocatedBytesForCurrentThread();
        allocationsBefore = AllocationWindow.Now();
        WindowStart = engine.ReadCounters();
        windowOpened = Stopwatch.GetTimestamp();
        driver.BeginPosting();
        measuring = true;
    }

    private void CloseWindow()
    {
        Interrupted = interruption.Requested;
        driver.Stop();
        Drained = EngineQuiescence.Wait(engine);
        Window = Stopwatch.GetElapsedTime(windowOpened);
        WindowEnd = engine.ReadCounters();
        var after = AllocationWindow.Now();
        MonitorAllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - monitorBefore;
        var all = AllocationWindow.Between(allocationsBefore, after);
        Allocations = all with { AllocatedBytes = Math.Max(0, all.AllocatedBytes - MonitorAllocatedBytes) };
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
