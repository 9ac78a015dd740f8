using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime;
using IpiEngine.Apic;
using IpiEngine.Cli.Run;
using IpiEngine.Pipeline;

namespace IpiEngine.Cli.Idle;

/// <summary>
/// <c>ipi perf idle</c>'s measurement: what an engine with no traffic costs, and how fast it wakes for one IPI.
/// A two-vCPU engine starts and settles (start-up work and JIT tiering burn CPU that is not idling), then does nothing
/// for the idle window while the process's CPU time is read before and after; then vCPU 0 posts single IPIs to vCPU 1
/// at intervals long enough for the engine to go idle again between them, and after each post the measuring thread
/// waits as a halted vCPU 1 would, blocked in <see cref="Engine.WaitForPending"/>: wake latency = post to "the waiting
/// vCPU has it". It blocks rather than spins: on this 2-core machine a spinning measurer held the core the scheduler
/// woke the pipeline thread on (the waker's, wake-affine) for a whole time slice, and every wake read about 3 ms
/// (<c>perf sched timehist</c>: the pipeline thread runnable 2.8 ms behind the spinner while the other core idled).
/// </summary>
internal static class IdleCost
{
    private const byte Vector = 0xFD;
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);
    private const int WarmUpWakes = 100; // at least; then on until the JIT is quiet (WarmUp)
    private static readonly TimeSpan WarmUpSpacing = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan JitQuietFor = TimeSpan.FromMilliseconds(300); // three times the runtime's tiering delay
    private static readonly TimeSpan WarmUpLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan WakePatience = TimeSpan.FromSeconds(30);

    /// <summary>Measures and reports.</summary>
    /// <exception cref="MeasurementFailedException">The engine did not deliver a wake's IPI in time (one sentence).</exception>
    public static IdleReport Measure(WaitStrategyKind wait, bool assist, TimeSpan idle, int wakes, TimeSpan interval)
    {
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(2, TopologyKind.X2ApicPhysical),
            WaitStrategy = wait,
            AssistIdlePipeline = assist,
            Name = "ipi-idle",
        });
        engine.Start();
        var warmUpWakes = WarmUp(engine);
        Thread.Sleep(Settle);

        var cpuBefore = ProcessCpuTime.Now();
        var start = Stopwatch.GetTimestamp();
        Thread.Sleep(idle);
        var cpuAfter = ProcessCpuTime.Now();
        var wall = Stopwatch.GetElapsedTime(start);
        var cpu = cpuAfter - cpuBefore;

        // Each wake alternates with a reference sample that has no engine in it: the same sleep, then a hand-off through
        // a ConcurrentQueue on this thread. What the reference shows (caches and TLB cold after the sleep, the
        // hypervisor's and the kernel's noise) bounds what any engine could reach on this machine at that moment.
        var latency = new LatencyHistogram();
        var reference = new LatencyHistogram();
        var queue = new ConcurrentQueue<long>();
        queue.Enqueue(0);
        queue.TryDequeue(out _);
        for (var i = 0; i < wakes; i++)
        {
            Thread.Sleep(interval);
            var (posted, seen) = WakeOnce(engine);
            latency.RecordTicks(posted, seen);

            Thread.Sleep(interval);
            var handedOff = Stopwatch.GetTimestamp();
            queue.Enqueue(handedOff);
            queue.TryDequeue(out _);
            reference.RecordTicks(handedOff, Stopwatch.GetTimestamp());
        }

        engine.Stop();
        var counters = engine.ReadCounters();
        return new IdleReport(
            EngineNames.Of(wait),
            assist,
            counters.AssistedPasses,
            wall.TotalSeconds,
            cpu.TotalSeconds,
            100 * cpu.TotalSeconds / Math.Max(wall.TotalSeconds, 1e-9),
            interval.TotalSeconds,
            latency.Summarize(),
            reference.Summarize(),
            counters.ConservationHolds && counters.IpisResolved == wakes + warmUpWakes && counters.Delivered == wakes + warmUpWakes);
    }

    /// <summary>
    /// Runs the post and delivery paths before the window until the JIT has tiered them up: at least
    /// <see cref="WarmUpWakes"/> wakes, <see cref="WarmUpSpacing"/> apart, and on until no method was compiled for
    /// <see cref="JitQuietFor"/> (at most <see cref="WarmUpLimit"/>). Spaced, because the runtime counts calls only after
    /// its tiering delay (100 ms) and tiers a method up after 30 counted calls: 100 wakes in a row took about a
    /// millisecond, all before counting began, so the measured wakes ran tier-0 code and paid the tier-ups (p99 57-67 µs
    /// against 43-53 µs with spaced warm-up wakes, 3 alternating runs each, far). Returns the wakes it posted.
    /// </summary>
    private static int WarmUp(Engine engine)
    {
        var begun = Stopwatch.GetTimestamp();
        var quietSince = begun;
        var compiled = JitInfo.GetCompiledMethodCount();
        var posted = 0;
        while (posted < WarmUpWakes
            || (Stopwatch.GetElapsedTime(quietSince) < JitQuietFor && Stopwatch.GetElapsedTime(begun) < WarmUpLimit))
        {
            WakeOnce(engine);
            posted++;
            Thread.Sleep(WarmUpSpacing);
            var now = JitInfo.GetCompiledMethodCount(); // every thread's, the background tier-1 compiler's included
            if (now != compiled)
            {
                compiled = now;
                quietSince = Stopwatch.GetTimestamp();
            }
        }

        return posted;
    }

    /// <summary>
    /// Posts one IPI from vCPU 0 to vCPU 1 and waits, blocked, until vCPU 1 has it (at most <paramref name="patience"/>,
    /// by default <see cref="WakePatience"/>); returns both timestamps.
    /// </summary>
    /// <exception cref="MeasurementFailedException">vCPU 1 did not get it in time (one sentence).</exception>
    internal static (long Posted, long Seen) WakeOnce(Engine engine, TimeSpan? patience = null)
    {
        var wait = patience ?? WakePatience;
        var posted = Stopwatch.GetTimestamp();
        engine.Post(0, ApicRegister.X2Icr, 1UL << 32 | 1u << 14 | Vector, 1);
        if (!engine.WaitForPending(1, wait, out var pending) || !pending.IsPending(Vector))
        {
            throw new MeasurementFailedException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"ipi perf idle: the engine did not deliver vector 0x{Vector:x2} from vCPU 0 to vCPU 1 within {wait.TotalSeconds:0.###} s, so there is no wake latency to measure."));
        }

        return (posted, Stopwatch.GetTimestamp());
    }
}

/// <summary>What <c>ipi perf idle</c> measured (JSON, camelCase).</summary>
/// <param name="Wait">The engine's wait strategy.</param>
/// <param name="Assist">Whether a post may deliver itself while the pipeline thread is parked (<see cref="EngineOptions.AssistIdlePipeline"/>).</param>
/// <param name="AssistedPasses">How many passes posting threads ran that way (<see cref="EngineCounters.AssistedPasses"/>).</param>
/// <param name="IdleSeconds">The idle window, measured.</param>
/// <param name="CpuSeconds">CPU time the whole process used in the idle window (user + system, every thread).</param>
/// <param name="CpuPercentOfOneCore">That CPU time as a percentage of one core over the window (goal: under 1).</param>
/// <param name="WakeIntervalSeconds">The quiet time before each single IPI.</param>
/// <param name="WakeLatencyNs">Post to "vCPU 1's TakePending sees it", in nanoseconds.</param>
/// <param name="ReferenceLatencyNs">
/// No engine: the same quiet time, then a ConcurrentQueue enqueue and dequeue on the measuring thread, alternating with
/// the wakes; the machine's own noise after a sleep, in nanoseconds.
/// </param>
/// <param name="ConservationHeld">Every posted IPI was resolved and delivered once.</param>
internal sealed record IdleReport(string Wait, bool Assist, long AssistedPasses, double IdleSeconds, double CpuSeconds, double CpuPercentOfOneCore, double WakeIntervalSeconds, LatencySummary WakeLatencyNs, LatencySummary ReferenceLatencyNs, bool ConservationHeld);
