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

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint cpusetsize, ref ulong mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nuint cpusetsize, ref ulong mask);
}
