using System.Runtime.InteropServices;

namespace IpiEngine;

/// <summary>
/// Pinning the calling thread to one logical CPU (Linux: <c>sched_setaffinity</c> on the thread, masks of glibc's
/// <c>cpu_set_t</c> size); elsewhere every call says it cannot. Used by the pipeline threads
/// (<see cref="EngineOptions.PipelineCpus"/>) and by the measuring tools.
/// </summary>
internal static unsafe partial class ThreadAffinity
{
    /// <summary>The CPUs a mask names: 0 to 1023 (glibc's <c>cpu_set_t</c>).</summary>
    public const int MaxCpus = 1024;

    private const int MaskWords = MaxCpus / 64;

    /// <summary>The logical CPUs the calling thread may run on, ascending; empty where the OS does not tell (not Linux).</summary>
    public static int[] AllowedCpus()
    {
        ulong* mask = stackalloc ulong[MaskWords];
        if (!TryGetMask(mask))
        {
            return [];
        }

        var cpus = new List<int>();
        for (int cpu = 0; cpu < MaxCpus; cpu++)
        {
            if ((mask[cpu >> 6] & (1UL << (cpu & 63))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }

    /// <summary>
    /// The first two logical CPUs this thread may run on, or null when there are fewer than two
    /// or the OS does not tell (then the probe runs unpinned).
    /// </summary>
    public static (int First, int Second)? TwoAllowedCpus()
        => AllowedCpus() is [var first, var second, ..] ? (first, second) : null;

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; false when that is not possible here.</summary>
    public static bool TryPinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu is < 0 or >= MaxCpus)
        {
            return false;
        }

        ulong* mask = stackalloc ulong[MaskWords];
        new Span<ulong>(mask, MaskWords).Clear();
        mask[cpu >> 6] = 1UL << (cpu & 63);
        return sched_setaffinity(0, MaskWords * sizeof(ulong), mask) == 0;
    }

    /// <summary>
    /// Pins the calling thread to <paramref name="cpu"/> until the scope is disposed, then gives it
    /// back the CPUs it had; a no-op for a negative <paramref name="cpu"/> or where pinning is not possible.
    /// </summary>
    public static PinScope PinCurrentThread(int cpu)
    {
        if (cpu < 0)
        {
            return default; // asked not to pin: not even the current CPUs are read
        }

        int[] before = AllowedCpus();
        return before.Length == 0 || !TryPinCurrentThread(cpu) ? default : new PinScope(before);
    }

    /// <summary>The CPUs a thread had before <see cref="PinCurrentThread"/>; disposing restores them.</summary>
    public readonly struct PinScope(int[]? before) : IDisposable
    {
        /// <summary>True when the thread was pinned.</summary>
        public bool Pinned => before is not null;

        /// <summary>Restores the thread's CPUs.</summary>
        public void Dispose()
        {
            if (before is null)
            {
                return;
            }

            ulong* mask = stackalloc ulong[MaskWords];
            new Span<ulong>(mask, MaskWords).Clear();
            foreach (int cpu in before)
            {
                mask[cpu >> 6] |= 1UL << (cpu & 63);
            }

            _ = sched_setaffinity(0, MaskWords * sizeof(ulong), mask);
        }
    }

    /// <summary>The logical CPU the calling thread runs on right now (Linux), or -1.</summary>
    public static int CurrentCpu() => OperatingSystem.IsLinux() ? sched_getcpu() : -1;

    /// <summary>The last error of a failed call here (errno).</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    private static bool TryGetMask(ulong* mask)
    {
        new Span<ulong>(mask, MaskWords).Clear();
        // pid 0 = the calling thread.
        return OperatingSystem.IsLinux() && sched_getaffinity(0, MaskWords * sizeof(ulong), mask) == 0;
    }

    [LibraryImport("libc")]
    private static partial int sched_getcpu();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nuint cpusetsize, ulong* mask);
}
