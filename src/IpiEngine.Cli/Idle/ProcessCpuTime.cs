using System.Runtime.InteropServices;

namespace IpiEngine.Cli.Idle;

/// <summary>
/// The CPU time (user + system) every thread of this process has used, from <c>getrusage(RUSAGE_SELF)</c>: microsecond
/// resolution, where <c>/proc/self/stat</c> counts 10 ms ticks (a tenth of the 1% an idle engine may cost over 10 s).
/// </summary>
internal static partial class ProcessCpuTime
{
    private const int RusageSelf = 0;

    /// <summary>User plus system CPU time used so far.</summary>
    public static TimeSpan Now()
    {
        if (GetRusage(RusageSelf, out var usage) != 0)
        {
            return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime; // /proc/self/stat, coarser
        }

        var micros = (usage.UserSeconds + usage.SystemSeconds) * 1_000_000 + usage.UserMicros + usage.SystemMicros;
        return TimeSpan.FromMicroseconds(micros);
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    /// <summary><c>struct rusage</c> on 64-bit Linux: two <c>timeval</c>s, then 14 longs this reader leaves alone.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicros;
        public long SystemSeconds;
        public long SystemMicros;
#pragma warning disable CS0169, IDE0051 // the kernel writes them; nothing reads them
        private unsafe fixed long _rest[14];
#pragma warning restore CS0169, IDE0051
    }
}
