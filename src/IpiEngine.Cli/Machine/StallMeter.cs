using System.Diagnostics;

namespace IpiEngine.Cli.Machine;

/// <summary>
/// <c>ipi perf stalls</c>'s measurement: how much time this machine takes away from threads that never wait. Each phase
/// runs N threads, one pinned to each of the first N allowed CPUs, that do nothing but read the clock; a read that comes
/// a threshold or more after the previous one is a gap: the thread was not running (the kernel ran something else on its
/// CPU, or the hypervisor did not run that virtual CPU). Nothing in the process competes with them, so the gaps are the
/// machine's own: a latency tail shorter than the stalls seen here is not reachable on it, whatever the engine does.
/// </summary>
/// <remarks>
/// The default phases are one busy thread and then one per core: on the project's 2-core cloud VM the second phase lost
/// tens of times more time than the first (gaps of 1 to 7 ms several times a second, and now and then one of about 100 ms
/// in every thread at once), so a run that keeps every core busy meets stalls that a lighter one does not.
/// </remarks>
internal static class StallMeter
{
    /// <summary>Gaps kept per thread; more are counted (<see cref="StallPhase.GapsNotKept"/>) but not timed.</summary>
    public const int MaxGapsPerThread = 1 << 16;

    /// <summary>A gap at least this long is a long stall (a whole scheduling period of the hypervisor or worse).</summary>
    public static readonly TimeSpan LongStall = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan StartDelay = TimeSpan.FromMilliseconds(50); // every thread started and pinned before the window

    /// <summary>Runs one phase per entry of <paramref name="busyThreads"/>, in order, each for <paramref name="duration"/>.</summary>
    /// <param name="busyThreads">Threads per phase, each from 1 to the number of CPUs this process may use.</param>
    /// <param name="duration">Each phase's window.</param>
    /// <param name="threshold">The shortest gap counted.</param>
    /// <param name="progress">Told when each phase starts.</param>
    public static StallReport Measure(IReadOnlyList<int> busyThreads, TimeSpan duration, TimeSpan threshold, Action<int>? progress = null)
    {
        var cpus = ThreadAffinity.AllowedCpus();
        var phases = new List<StallPhase>(busyThreads.Count);
        var pinned = true;
        foreach (var threads in busyThreads)
        {
            progress?.Invoke(threads);
            phases.Add(RunPhase(threads, cpus, duration, threshold, ref pinned));
        }

        return new StallReport(Environment.ProcessorCount, threshold.TotalMilliseconds, duration.TotalSeconds, pinned, phases);
    }

    private static StallPhase RunPhase(int threads, int[] cpus, TimeSpan duration, TimeSpan threshold, ref bool pinned)
    {
        var onOwnCpu = new bool[threads];
        var startAt = Stopwatch.GetTimestamp() + Ticks(StartDelay);
        var endAt = startAt + Ticks(duration);
        var watches = new GapLog[threads];
        var workers = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            var log = watches[i] = new GapLog(MaxGapsPerThread);
            var index = i;
            int? cpu = i < cpus.Length ? cpus[i] : null;
            workers[i] = new Thread(() =>
            {
                onOwnCpu[index] = cpu is { } c && ThreadAffinity.TryPinCurrentThread(c);

                var clock = new SystemClock();
                while (clock.Now() < startAt)
                {
                    // spin: every thread is on its CPU when the window opens
                }

                Watch(ref clock, log, startAt, endAt, Ticks(threshold));
            })
            {
                IsBackground = true,
                Name = $"ipi-stalls{i}",
            };
            workers[i].Start();
        }

        foreach (var worker in workers)
        {
            worker.Join(); // also orders each thread's log and pin result before the reads below
        }

        pinned &= onOwnCpu.All(p => p);
        return Summarize(threads, endAt - startAt, watches, Stopwatch.Frequency);
    }

    /// <summary>
    /// Reads <paramref name="clock"/> from <paramref name="startAt"/> until it reaches <paramref name="endAt"/> and logs every
    /// interval of <paramref name="thresholdTicks"/> or more between two reads.
    /// </summary>
    public static void Watch<TClock>(ref TClock clock, GapLog log, long startAt, long endAt, long thresholdTicks)
        where TClock : struct, IClock
    {
        var previous = startAt;
        while (true)
        {
            var now = clock.Now();
            if (now - previous >= thresholdTicks)
            {
                log.Add(previous, Math.Min(now, endAt));
            }

            if (now >= endAt)
            {
                return;
            }

            previous = now;
        }
    }

    /// <summary>
    /// One phase's figures from each thread's gaps (ascending and disjoint within a thread, as <see cref="Watch"/> logs
    /// them): how many, how long in all and at most, and the time every thread was stalled at once.
    /// </summary>
    public static StallPhase Summarize(int threads, long windowTicks, IReadOnlyList<GapLog> logs, long frequency)
    {
        double Ms(long ticks) => ticks * 1000.0 / frequency;
        long count = 0, notKept = 0, total = 0, longest = 0, longStalls = 0;
        var longTicks = LongStall.TotalSeconds * frequency;
        foreach (var log in logs)
        {
            count += log.Count + log.NotKept;
            notKept += log.NotKept;
            foreach (var (start, end) in log.Gaps)
            {
                total += end - start;
                longest = Math.Max(longest, end - start);
                longStalls += end - start >= longTicks ? 1 : 0;
            }
        }

        double? together = null, togetherLongest = null;
        if (threads > 1)
        {
            var common = logs[0].Gaps;
            for (var i = 1; i < logs.Count; i++)
            {
                common = Intersect(common, logs[i].Gaps);
            }

            together = Ms(common.Sum(g => g.End - g.Start));
            togetherLongest = Ms(common.Count == 0 ? 0 : common.Max(g => g.End - g.Start));
        }

        return new StallPhase(
            threads,
            Ms(windowTicks) / 1000,
            count,
            notKept,
            Ms(total),
            windowTicks <= 0 ? 0 : 100.0 * total / ((double)windowTicks * threads),
            Ms(longest),
            longStalls,
            together,
            togetherLongest);
    }

    /// <summary>The intervals covered by both lists (each ascending and disjoint).</summary>
    private static List<(long Start, long End)> Intersect(IReadOnlyList<(long Start, long End)> a, IReadOnlyList<(long Start, long End)> b)
    {
        var both = new List<(long, long)>();
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            var start = Math.Max(a[i].Start, b[j].Start);
            var end = Math.Min(a[i].End, b[j].End);
            if (start < end)
            {
                both.Add((start, end));
            }

            if (a[i].End < b[j].End)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return both;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The clock a watching thread reads (a struct, so the loop has no call it cannot inline).</summary>
    public interface IClock
    {
        /// <summary>Now, in <see cref="Stopwatch"/> ticks.</summary>
        long Now();
    }

    private struct SystemClock : IClock
    {
        public readonly long Now() => Stopwatch.GetTimestamp();
    }
}

/// <summary>One watching thread's gaps, allocated before the window (adding one allocates nothing).</summary>
internal sealed class GapLog(int capacity)
{
    private readonly (long Start, long End)[] _gaps = new (long, long)[capacity];

    /// <summary>Gaps kept.</summary>
    public int Count { get; private set; }

    /// <summary>Gaps seen after the log was full.</summary>
    public long NotKept { get; private set; }

    /// <summary>The gaps kept, in the order seen.</summary>
    public IReadOnlyList<(long Start, long End)> Gaps => new ArraySegment<(long, long)>(_gaps, 0, Count);

    /// <summary>Logs a gap, or counts it when full.</summary>
    public void Add(long start, long end)
    {
        if (Count == _gaps.Length)
        {
            NotKept++;
            return;
        }

        _gaps[Count++] = (start, end);
    }
}

/// <summary>What <c>ipi perf stalls</c> measured (JSON, camelCase).</summary>
/// <param name="Cores">Logical CPUs of the machine.</param>
/// <param name="ThresholdMs">The shortest gap counted.</param>
/// <param name="PhaseSeconds">Each phase's window, as asked.</param>
/// <param name="Pinned">Whether each watching thread had its own CPU (false where the OS cannot pin, or allows fewer CPUs).</param>
/// <param name="Phases">One per busy-thread count, in the order run.</param>
internal sealed record StallReport(int Cores, double ThresholdMs, double PhaseSeconds, bool Pinned, IReadOnlyList<StallPhase> Phases);

/// <summary>One phase of <see cref="StallReport"/>.</summary>
/// <param name="BusyThreads">Threads reading the clock, one per CPU.</param>
/// <param name="Seconds">The window.</param>
/// <param name="Gaps">Gaps of at least the threshold, over all threads.</param>
/// <param name="GapsNotKept">Of those, gaps seen after a thread's log was full (counted, not timed).</param>
/// <param name="StalledMs">Their total length.</param>
/// <param name="StalledPercent">That, as a share of the threads' time (threads x window).</param>
/// <param name="LongestMs">The longest gap.</param>
/// <param name="LongStalls">Gaps of 50 ms or more.</param>
/// <param name="AllStalledMs">Time every thread was in a gap at once (null with one thread): the whole machine stopped.</param>
/// <param name="AllStalledLongestMs">The longest such time.</param>
internal sealed record StallPhase(
    int BusyThreads,
    double Seconds,
    long Gaps,
    long GapsNotKept,
    double StalledMs,
    double StalledPercent,
    double LongestMs,
    long LongStalls,
    double? AllStalledMs,
    double? AllStalledLongestMs);
