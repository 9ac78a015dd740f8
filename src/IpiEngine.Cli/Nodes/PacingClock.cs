using System.Diagnostics;
using System.Runtime.InteropServices;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// Offered-load pacing for a node's posting thread: the n-th IPI of a run at <c>rate</c> IPIs/s is due at n / rate
/// seconds, and the thread posts whatever is due once per step, sleeping between steps. A step of 1 ms (all that
/// <see cref="Thread.Sleep(int)"/> can do) made each node post about 500 IPIs in one 80 µs burst every millisecond at
/// 1 M IPIs/s across two nodes, and the link threads woken by the first of them waited for a core behind the rest. On
/// Linux the sleep is a <c>clock_nanosleep</c> with the thread's timer slack cut to 1 µs (the default 50 µs would
/// stretch every short step), so steps of 100 µs post about 50 IPIs each. The slack is the calling thread's (often a
/// pool thread): <see cref="Dispose"/> gives it back its previous value.
/// </summary>
internal sealed partial class PacingClock : IDisposable
{
    /// <summary>The step, unless the caller says otherwise.</summary>
    public const int DefaultStepMicroseconds = 250;

    /// <summary>The longest step (a second).</summary>
    public const int MaxStepMicroseconds = 1_000_000;

    private const int PrSetTimerSlack = 29; // prctl(2): PR_SET_TIMERSLACK, in nanoseconds
    private const int PrGetTimerSlack = 30; // prctl(2): PR_GET_TIMERSLACK, returns it
    private const int ClockMonotonic = 1;

    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly double _ticksPerIpi;
    private readonly long _stepTicks;
    private readonly bool _preciseSleep;
    private readonly int _previousSlack = -1; // the thread's slack before, when this clock changed it
    private long _flushedStep;                // the step (from the start) of the last flush of WaitFor's batch

    /// <param name="rate">IPIs per second (positive).</param>
    /// <param name="stepMicroseconds">The step (1 µs to 1 s); at least 1000 sleeps with <see cref="Thread.Sleep(int)"/> alone.</param>
    public PacingClock(long rate, int stepMicroseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepMicroseconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stepMicroseconds, MaxStepMicroseconds);
        _ticksPerIpi = (double)Stopwatch.Frequency / rate;
        _stepTicks = Math.Max(1, Stopwatch.Frequency * stepMicroseconds / 1_000_000);
        // Called on the posting thread: the slack is a per-thread setting.
        if (stepMicroseconds < 1000 && OperatingSystem.IsLinux())
        {
            int previous = prctl(PrGetTimerSlack, 0, 0, 0, 0);
            _preciseSleep = previous > 0 && prctl(PrSetTimerSlack, 1000, 0, 0, 0) == 0;
            _previousSlack = _preciseSleep ? previous : -1;
        }
    }

    /// <summary>The calling thread's timer slack in nanoseconds (Linux; -1 elsewhere).</summary>
    internal static int CurrentThreadTimerSlack() => OperatingSystem.IsLinux() ? prctl(PrGetTimerSlack, 0, 0, 0, 0) : -1;

    /// <summary>Gives the calling thread (the one that made this clock) its previous timer slack back.</summary>
    public void Dispose()
    {
        if (_previousSlack > 0)
        {
            _ = prctl(PrSetTimerSlack, (nuint)_previousSlack, 0, 0, 0);
        }
    }

    /// <summary>Whether steps under 1 ms sleep precisely (Linux); elsewhere they round up to <see cref="Thread.Sleep(int)"/>'s millisecond.</summary>
    public bool PreciseSleep => _preciseSleep;

    /// <summary>When IPI number <paramref name="ipi"/> (from 0) may go: its due time rounded up to the step.</summary>
    public long DueTicks(long ipi)
    {
        long due = (long)(ipi * _ticksPerIpi);
        long steps = (due + _stepTicks - 1) / _stepTicks;
        return _start + (steps * _stepTicks);
    }

    /// <summary>
    /// Sleeps until IPI number <paramref name="ipi"/> is due (returns at once when it is). It flushes
    /// <paramref name="batch"/> before it sleeps (the step's posts are out, so their frames go now, on this thread) and,
    /// when the thread is behind and does not sleep, once per step that began since its last flush, so a node that cannot
    /// keep up with its rate still sends every step (<see cref="SendBatch"/>; a default batch flushes nothing).
    /// </summary>
    public void WaitFor(long ipi, in SendBatch batch = default)
    {
        long due = DueTicks(ipi);
        bool flushed = false;
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            long early = due - now;
            if (early <= 0)
            {
                long step = (now - _start) / _stepTicks;
                if (!flushed && step != _flushedStep)
                {
                    batch.Flush(); // behind: a step began without a sleep since the last flush
                }

                _flushedStep = step;
                return;
            }

            if (!flushed)
            {
                batch.Flush(); // about to sleep: this step's posts are out
                flushed = true;
                continue; // the flush took time: read the clock again
            }

            if (_preciseSleep)
            {
                long nanoseconds = (long)(early * (1e9 / Stopwatch.Frequency));
                var request = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
                _ = clock_nanosleep(ClockMonotonic, 0, ref request, IntPtr.Zero); // an interrupted sleep loops
            }
            else
            {
                Thread.Sleep(1);
            }

            _flushedStep = (Stopwatch.GetTimestamp() - _start) / _stepTicks; // awake in the step whose posts come next
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc")]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc")]
    private static partial int clock_nanosleep(int clock, int flags, ref TimeSpec request, IntPtr remain);
}
