using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace IpiEngine.Cli.Machine;

/// <summary>What a thread does in a run, read from its name (the names the engine and the workload driver give them).</summary>
internal enum ThreadRole
{
    /// <summary>An engine pipeline thread: <c>ipi-fused</c>, <c>ipi-gather</c>, <c>ipi-resolve</c>, <c>ipi-deliver</c>.</summary>
    Pipeline,

    /// <summary>A vCPU thread of the workload driver (<c>vcpuN</c>): it posts and takes its pending interrupts.</summary>
    Vcpu,

    /// <summary>A device thread of the workload driver (<c>deviceN</c>).</summary>
    Device,

    /// <summary>Any other thread of the process (the runtime's, the display's).</summary>
    Other,

    /// <summary>A reference rig's consumer (<c>probe-consumer</c>, <c>queue-consumer</c>: <c>ipi run --baseline</c>).</summary>
    ReferenceConsumer,

    /// <summary>A reference rig's producer (<c>probe-producer-N</c>, <c>queue-producer-N</c>).</summary>
    ReferenceProducer,
}

/// <summary>
/// The CPU time of this process's threads, from <c>/proc/self/task/TID/stat</c> (proc(5): the thread's name, then
/// <c>utime</c> and <c>stime</c> in clock ticks, 10 ms here). Linux only: elsewhere <see cref="TryList"/> returns null.
/// </summary>
/// <remarks>
/// Two steps, so that a measured window's allocation count stays exact: <see cref="TryList"/> lists the threads (which
/// allocates) before the window, and <see cref="ReadTicks"/> reads the listed threads' ticks again as often as needed,
/// allocating nothing (<c>open</c>/<c>read</c> into a stack buffer), in methods compiled optimized at their first call.
/// Listing inside a window put 12 KB into "allocated in the window" in about half of the runs with <c>--baseline</c>,
/// beyond what the listing thread itself counted: the runtime's tiering promoted the methods the listing called dozens
/// of times, inside the window, on a worker thread it starts for that; so did re-reads left to tiered compilation. A
/// thread started after the listing is not seen, nor the time since the last read of one that has ended.
/// </remarks>
internal sealed unsafe partial class ThreadCpuTimes
{
    private const string TaskDirectory = "/proc/self/task";
    private const int ClockTicksName = 2; // _SC_CLK_TCK on Linux
    private const int ReadOnly = 0;       // O_RDONLY

    /// <summary>Bytes read of a <c>stat</c> file: its fields up to <c>stime</c> take under 200 (a 15-byte name, numbers).</summary>
    private const int StatBytes = 1024;

    private static readonly Lazy<long> TicksPerSecond = new(ReadTicksPerSecond);
    private readonly byte[][] _statPaths; // each NUL-terminated, for open(2)
    private readonly ThreadRole[] _roles;

    private ThreadCpuTimes(byte[][] statPaths, ThreadRole[] roles)
    {
        _statPaths = statPaths;
        _roles = roles;
    }

    /// <summary>The clock's resolution: one tick.</summary>
    public static double ResolutionSeconds => 1.0 / TicksPerSecond.Value;

    /// <summary>How many threads were listed.</summary>
    public int Count => _roles.Length;

    /// <summary>The listed threads' roles, in the listing's order.</summary>
    public ReadOnlySpan<ThreadRole> Roles => _roles;

    /// <summary>Lists every thread of this process; null where there is no <c>/proc/self/task</c> (not Linux).</summary>
    public static ThreadCpuTimes? TryList() => TryList(TaskDirectory);

    /// <summary>Lists the threads under <paramref name="taskDirectory"/> (one directory per thread id, each with a <c>stat</c> file).</summary>
    internal static ThreadCpuTimes? TryList(string taskDirectory)
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists(taskDirectory))
        {
            return null;
        }

        _ = ResolutionSeconds; // its first read calls sysconf: here, before any window, not in the allocation-free re-read
        var paths = new List<byte[]>();
        var roles = new List<ThreadRole>();
        foreach (var directory in Directory.EnumerateDirectories(taskDirectory))
        {
            if (!int.TryParse(Path.GetFileName(directory.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                continue;
            }

            var path = Encoding.UTF8.GetBytes(Path.Join(directory, "stat") + "\0");
            if (ReadStat(path, out var role, out _))
            {
                paths.Add(path);
                roles.Add(role);
            }
        }

        return new ThreadCpuTimes([.. paths], [.. roles]);
    }

    /// <summary>
    /// Reads each listed thread's ticks (user + system) into <paramref name="ticks"/> (one per listed thread, in the
    /// listing's order); -1 for a thread that has ended. Allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    public void ReadTicks(Span<long> ticks)
    {
        for (var i = 0; i < _statPaths.Length; i++)
        {
            ticks[i] = ReadStat(_statPaths[i], out _, out var now) ? now : -1;
        }
    }

    /// <summary>
    /// Adds to <paramref name="secondsByRole"/> (indexed by <see cref="ThreadRole"/>) the CPU seconds each listed thread
    /// ran from <paramref name="before"/> to <paramref name="after"/> (two <see cref="ReadTicks"/> readings); a thread that
    /// ended by either reading adds nothing. Allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    public void AddSecondsBetween(ReadOnlySpan<long> before, ReadOnlySpan<long> after, Span<double> secondsByRole)
    {
        for (var i = 0; i < _roles.Length; i++)
        {
            if (before[i] >= 0 && after[i] >= before[i])
            {
                secondsByRole[(int)_roles[i]] += (after[i] - before[i]) * ResolutionSeconds;
            }
        }
    }

    /// <summary>Reads one thread's <c>stat</c> file without allocating; false when it cannot (the thread ended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    private static bool ReadStat(byte[] nulTerminatedPath, out ThreadRole role, out long ticks)
    {
        role = ThreadRole.Other;
        ticks = 0;
        byte* line = stackalloc byte[StatBytes];
        int file;
        fixed (byte* path = nulTerminatedPath)
        {
            file = Open(path, ReadOnly);
        }

        if (file < 0)
        {
            return false;
        }

        var length = Read(file, line, StatBytes);
        _ = Close(file);
        return length > 0 && TryParseStat(new ReadOnlySpan<byte>(line, (int)length), out role, out ticks);
    }

    /// <summary>
    /// Reads a thread's role (from its name) and its <c>utime + stime</c> from its <c>stat</c> line, without allocating.
    /// The name sits in parentheses and may hold spaces and parentheses itself (".NET TP Worker"), so the fields after
    /// it are counted from the line's last ')'.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    internal static bool TryParseStat(ReadOnlySpan<byte> line, out ThreadRole role, out long ticks)
    {
        role = ThreadRole.Other;
        ticks = 0;
        var open = line.IndexOf((byte)'(');
        var close = line.LastIndexOf((byte)')');
        if (open < 0 || close < open)
        {
            return false;
        }

        role = RoleOf(line[(open + 1)..close]);
        const int UserTime = 11, SystemTime = 12; // fields 14 and 15 of proc(5), counted from the state (field 3)
        var rest = line[(close + 1)..];
        long user = 0, system = 0;
        for (var field = 0; field <= SystemTime; field++)
        {
            rest = rest.TrimStart((byte)' ');
            var end = rest.IndexOf((byte)' ');
            var value = end < 0 ? rest.TrimEnd((byte)'\n') : rest[..end];
            if (value.IsEmpty)
            {
                return false;
            }

            if (field is UserTime or SystemTime)
            {
                if (!Utf8Parser.TryParse(value, out long number, out var used) || used != value.Length || number < 0)
                {
                    return false;
                }

                if (field == UserTime)
                {
                    user = number;
                }
                else
                {
                    system = number;
                }
            }

            rest = end < 0 ? [] : rest[end..];
        }

        ticks = user + system;
        return true;
    }

    /// <summary>The role a thread's name says it has (Linux keeps the first 15 bytes of a name).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    internal static ThreadRole RoleOf(ReadOnlySpan<byte> name)
        => name.StartsWith("ipi-"u8) ? ThreadRole.Pipeline
            : name.StartsWith("vcpu"u8) ? ThreadRole.Vcpu
            : name.StartsWith("device"u8) ? ThreadRole.Device
            : name.IndexOf("-consumer"u8) > 0 ? ThreadRole.ReferenceConsumer
            : name.IndexOf("-producer"u8) > 0 ? ThreadRole.ReferenceProducer
            : ThreadRole.Other;

    /// <summary>The clock ticks a second of <c>utime</c> and <c>stime</c> (<c>sysconf(_SC_CLK_TCK)</c>, 100 on Linux).</summary>
    private static long ReadTicksPerSecond()
    {
        var ticks = OperatingSystem.IsLinux() ? SysConf(ClockTicksName) : -1;
        return ticks > 0 ? ticks : 100;
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    [LibraryImport("libc", EntryPoint = "open")]
    private static partial int Open(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "read")]
    private static partial nint Read(int file, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int file);
}
