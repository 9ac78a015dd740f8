using System.Runtime.InteropServices;

namespace IpiEngine.Perf.Calibration;

/// <summary>Best-effort pinning of the calling thread to one logical CPU (Linux only; elsewhere a no-op that says so).</summary>
internal static partial class ThreadAffinity
{
    /// <summary>
    /// The first two logical CPUs this process may run on, or null when there are fewer than two
    /// or the OS does not tell (then the probe runs unpinned).
    /// </summary>
    public static (int First, int Second)? TwoAllowedCpus()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        ulong mask = 0;
        // pid 0 = the calling thread; the mask covers CPUs 0..63, enough for the machines this runs on.
        if (sched_getaffinity(0, sizeof(ulong), ref mask) != 0)
        {
            return null;
        }
        int first = -1;
        for (int cpu = 0; cpu < 64; cpu++)
        {
            if ((mask & (1UL << cpu)) == 0)
            {
                continue;
            }
            if (first < 0)
            {
                first = cpu;
            }
            else
            {
                return (first, cpu);
            }
        }
        return null;
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; false when that is not possible here.</summary>
    public static bool TryPinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu is < 0 or >= 64)
        {
            return false;
        }
        ulong mask = 1UL << cpu;
        return sched_setaffinity(0, sizeof(ulong), ref mask) == 0;
    }

    /// <summary>The calling thread's CPUs as a mask (bit n = CPU n), or 0 when the OS does not tell.</summary>
    public static ulong CurrentMask()
    {
        ulong mask = 0;
        return OperatingSystem.IsLinux() && sched_getaffinity(0, sizeof(ulong), ref mask) == 0 ? mask : 0;
    }

    /// <summary>
    /// Pins the calling thread to <paramref name="cpu"/> until the scope is disposed, then gives it
    /// back the CPUs it had; a no-op for a negative <paramref name="cpu"/> or where pinning is not possible.
    /// </summary>
    public static PinScope PinCurrentThread(int cpu)
    {
        ulong before = 0;
        if (cpu < 0 || !OperatingSystem.IsLinux() || sched_getaffinity(0, sizeof(ulong), ref before) != 0 || !TryPinCurrentThread(cpu))
        {
            return default;
        }
        return new PinScope(before);
    }

    /// <summary>The CPUs a thread had before <see cref="PinCurrentThread"/>; disposing restores them.</summary>
    public readonly struct PinScope(ulong before) : IDisposable
    {
        /// <summary>True when the thread was pinned.</summary>
        public bool Pinned => before != 0;

        /// <summary>Restores the thread's CPUs.</summary>
        public void Dispose()
        {
            if (before != 0)
            {
                ulong mask = before;
                _ = sched_setaffinity(0, sizeof(ulong), ref mask);
            }
        }
    }

    /// <summary>The logical CPU the calling thread runs on right now (Linux), or -1.</summary>
    public static int CurrentCpu() => OperatingSystem.IsLinux() ? sched_getcpu() : -1;

    [LibraryImport("libc")]
    private static partial int sched_getcpu();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint cpusetsize, ref ulong mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nuint cpusetsize, ref ulong mask);
}
