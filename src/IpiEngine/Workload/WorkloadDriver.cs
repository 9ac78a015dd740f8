using System.Diagnostics;

namespace IpiEngine.Workload;

/// <summary>
/// Runs a <see cref="WorkloadScript"/> through an <see cref="Engine"/>: one thread per emulated vCPU posting its
/// script in a loop (batched) and taking its pending interrupts between posts. The threads start ready but idle,
/// post from <see cref="BeginPosting"/> on, and end at <see cref="Stop"/> or, in a counted run, after their share.
/// </summary>
internal sealed class WorkloadDriver
{
    private readonly Engine engine;
    private readonly WorkloadScript script;
    private readonly WorkloadPhase phase;
    private readonly VcpuDriver[] drivers;
    private readonly Thread[] threads;
    private readonly DeviceDriver[] deviceDrivers;
    private readonly Thread[] deviceThreads;
    private readonly object startGate = new(); // a Monitor: Start waits on it until every thread is started
    private bool started;
    private int unstarted; // threads not yet started (Start counts them down)

    /// <summary>
    /// Prepares the threads. <paramref name="windowIpis"/> is the total number of IPIs to offer in the measured window
    /// (shared out over the vCPUs), or null to run until <see cref="Stop"/>; <paramref name="ipisPerSecond"/> paces the
    /// offered load over all vCPUs (IPI k of vCPU v is due (k * vCPUs + v) / rate seconds after posting opens, and a
    /// batch waits until its last IPI is due, so at most rate x seconds + 1 are ever offered), or null for as fast as
    /// the engine takes them.
    /// </summary>
    public WorkloadDriver(Engine engine, WorkloadScript script, int batch, long? windowIpis, double? ipisPerSecond)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(script);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        if (windowIpis < 0 || ipisPerSecond is <= 0 or double.NaN)
        {
            throw new ArgumentOutOfRangeException(windowIpis < 0 ? nameof(windowIpis) : nameof(ipisPerSecond), "Counts and rates must be positive.");
        }

        if (script.Vcpus.Length != engine.VcpuCount)
        {
            throw new ArgumentException($"The script has {script.Vcpus.Length} vCPUs but the engine {engine.VcpuCount}.", nameof(script));
        }

        this.engine = engine;
        this.script = script;
        var n = script.Vcpus.Length;
        var devices = script.Devices?.DeviceCount ?? 0;
        phase = new WorkloadPhase(n + devices);
        drivers = new VcpuDriver[n];
        threads = new Thread[n];
        deviceDrivers = new DeviceDriver[devices];
        deviceThreads = new Thread[devices];
        LevelPins = script.Devices is { } deviceWorkload ? new LevelPinHandshake(engine, deviceWorkload) : null;

        // A counted run gives the devices their weight's share of the IPIs (rounded down), the vCPUs the rest.
        var deviceTotal = DeviceShareOf(windowIpis, script.Mix, devices);
        for (var d = 0; d < devices; d++)
        {
            var share = windowIpis is null ? long.MaxValue : deviceTotal / devices + (d < deviceTotal % devices ? 1 : 0);
            deviceDrivers[d] = new DeviceDriver(engine, d, phase, LevelPins!, share, script.Mix);
            var index = d;
            deviceThreads[d] = new Thread(() =>
            {
                deviceDrivers[index].Run();
                phase.WaitForStop(); // alive until Stop, as the vCPU threads (RunVcpu)
            })
            { IsBackground = true, Name = $"device{d}" };
        }

        var vcpuTotal = windowIpis - deviceTotal;
        var ticksPerIpi = ipisPerSecond is { } rate ? Stopwatch.Frequency * n / rate : 0;
        for (var v = 0; v < n; v++)
        {
            var share = vcpuTotal is { } total ? total / n + (v < total % n ? 1 : 0) : long.MaxValue;
            drivers[v] = new VcpuDriver(engine, script.Vcpus[v], phase, batch, share, ticksPerIpi, ticksPerIpi * v / n, LevelPins);
            var index = v;
            threads[v] = new Thread(() => RunVcpu(index)) { IsBackground = true, Name = $"vcpu{v}" };
        }
    }

    /// <summary>
    /// The IPIs a counted run of <paramref name="windowIpis"/> gives its <paramref name="devices"/> device threads
    /// together: their weight's share, rounded down (0 uncounted or without devices). Multiplied in 128 bits: a large
    /// count times a large weight overflows a long (10^13 IPIs with msi=1000000 gave the devices a negative share).
    /// </summary>
    internal static long DeviceShareOf(long? windowIpis, WorkloadMix mix, int devices)
        => windowIpis is { } all && devices > 0 ? (long)((Int128)all * mix.DeviceWeight / mix.TotalWeight) : 0;

    /// <summary>The level IOAPIC pins' handshake, when the script has device threads.</summary>
    public LevelPinHandshake? LevelPins { get; }

    /// <summary>The device threads' drivers (their counts are final once <see cref="Stop"/> returned).</summary>
    public IReadOnlyList<DeviceDriver> Devices => deviceDrivers;

    /// <summary>True once every vCPU and device has posted its share of a counted run (or stopped).</summary>
    public bool AllFinished => phase.Running == 0;

    /// <summary>IPIs the vCPU and device threads posted; final once <see cref="Stop"/> returned.</summary>
    public long PostedIpis => phase.FinishedIpis;

    /// <summary>IPIs one vCPU posted; final once <see cref="Stop"/> returned.</summary>
    public long PostedIpisOf(int vcpu) => drivers[vcpu].Sent;

    /// <summary>The instant vCPU <paramref name="vcpu"/>'s paced schedule counted from (after <see cref="Stop"/>; 0 unpaced).</summary>
    internal long PaceStartOf(int vcpu) => drivers[vcpu].PaceStart;

    /// <summary>When posting first opened (<see cref="BeginPosting"/>; a <see cref="Stopwatch"/> timestamp, 0 before).</summary>
    internal long PostingOpenedAt => phase.OpenedAt;

    /// <summary>How often the vCPUs found interrupts pending and took them; final once <see cref="Stop"/> returned.</summary>
    public long TakenInterrupts
    {
        get
        {
            long taken = 0;
            foreach (var d in drivers)
            {
                taken += d.Taken;
            }

            return taken;
        }
    }

    /// <summary>
    /// Posts the bring-up (vCPU 0's INIT/SIPI to every other vCPU) from the calling thread, before the vCPU threads
    /// exist: the thread start orders these posts before vCPU 0's own thread posts anything.
    /// </summary>
    public void PostBringUp()
    {
        if (started)
        {
            throw new InvalidOperationException("The bring-up goes before the vCPU threads start.");
        }

        if (script.BringUp.Length > 0)
        {
            engine.PostBatch(0, script.BringUp);
        }
    }

    /// <summary>
    /// Starts the vCPU threads, idle until <see cref="BeginPosting"/>, and returns once every one is started. Each
    /// <see cref="Thread.Start()"/> waits until the new thread runs, which on a busy machine takes a scheduling period
    /// (tens of milliseconds at a load of 10 on 2 cores: 4,096 threads started by 16 starter threads took 11.5 s). So
    /// the threads start each other, as a binary tree: thread v first starts threads 2v+1 and 2v+2, then runs its vCPU.
    /// The waits of one level overlap, and n threads take about 2 log2(n) waits in a row (24 for 4,096) instead of n/16.
    /// </summary>
    public void Start()
    {
        started = true;
        unstarted = threads.Length;
        foreach (var t in deviceThreads)
        {
            t.Start(); // a few: started here, idle until BeginPosting like the vCPUs
        }

        StartThread(0);
        lock (startGate)
        {
            while (Volatile.Read(ref unstarted) > 0)
            {
                Monitor.Wait(startGate); // checked under the gate: the last start's pulse cannot fall before the wait
            }
        }
    }

    /// <summary>A vCPU thread's body: start its two children in the tree, then drive the vCPU.</summary>
    private void RunVcpu(int vcpu)
    {
        StartThread((2 * vcpu) + 1);
        StartThread((2 * vcpu) + 2);
        drivers[vcpu].Run();
        phase.WaitForStop(); // a counted share may end early: the thread stays, blocked, until Stop, so its CPU time can be read at the window's end
    }

    private void StartThread(int vcpu)
    {
        if (vcpu >= threads.Length)
        {
            return;
        }

        threads[vcpu].Start();
        if (Interlocked.Decrement(ref unstarted) == 0) // full fence: Start's check under the gate sees 0 at the latest after the pulse
        {
            lock (startGate)
            {
                Monitor.PulseAll(startGate);
            }
        }
    }

    /// <summary>Lets every vCPU thread post (counted runs count from here).</summary>
    public void BeginPosting() => phase.Set(WorkloadPhase.Posting);

    /// <summary>
    /// Tells every vCPU thread to park after its current batch and returns once every one still posting is parked:
    /// from then until <see cref="Resume"/> or <see cref="Stop"/> nothing is posted (what was posted before may still be
    /// in the engine). A paced vCPU catches up after a pause (its IPIs stay due at their times). Not for a workload with
    /// device threads, which do not park.
    /// </summary>
    public void Pause()
    {
        if (deviceThreads.Length > 0)
        {
            throw new InvalidOperationException("A workload with device threads cannot pause: they do not park.");
        }

        phase.Set(WorkloadPhase.Paused);
        phase.WaitUntilParked();
    }

    /// <summary>Lets the parked vCPU threads post again.</summary>
    public void Resume() => phase.Set(WorkloadPhase.Posting);

    /// <summary>Tells every vCPU thread to stop after its current batch and waits for them (a thread that finished its share waits for this).</summary>
    public void Stop()
    {
        phase.Set(WorkloadPhase.Stopping);
        if (!started)
        {
            return;
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        foreach (var t in deviceThreads)
        {
            t.Join();
        }
    }
}
