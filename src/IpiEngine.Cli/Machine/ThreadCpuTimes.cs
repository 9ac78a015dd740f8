using System.Buffers.Text;
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
/// of times, inside the window. Listed before the window with the library's directory enumeration and parsed with its
/// span helpers, 2 of about 30 runs still did: the runtime's JIT log put this class's initializer, the re-read's first
/// compilation and the promotion of the library methods the parser called 30 times a read inside the window. So the
/// listing reads the directory with <c>opendir</c>/<c>readdir</c>, the parser is plain loops, every method here is
/// compiled optimized at its first call, and the listing runs the initializer and the re-read once (0 B in 24 of 24
/// runs after). A thread started after the listing is not seen, nor the time since the last read of one that has ended.
/// </remarks>
internal sealed unsafe partial class ThreadCpuTimes
{
    private const string TaskDirectory = "/proc/self/task";
    private const int ClockTicksName = 2; // _SC_CLK_TCK on Linux
    private const int ReadOnly = 0;       // O_RDONLY

    /// <summary>Bytes read of a <c>stat</c> file: its fields up to <c>stime</c> take under 200 (a 15-byte name, numbers).</summary>
    private const int StatBytes = 1024;

    /// <summary>How many <see cref="ThreadRole"/>s (the length of a seconds-by-role array).</summary>
    public static readonly int RoleCount = Enum.GetValues<ThreadRole>().Length;

    private static readonly double SecondsPerTick = 1.0 / ReadTicksPerSecond(); // read once, with the class
    private readonly byte[][] _statPaths; // each NUL-terminated, for open(2)
    private readonly ThreadRole[] _roles;

    private ThreadCpuTimes(byte[][] statPaths, ThreadRole[] roles)
    {
        _statPaths = statPaths;
        _roles = roles;
    }

    /// <summary>The clock's resolution: one tick.</summary>
    public static double ResolutionSeconds => SecondsPerTick;

    /// <summary>How many threads were listed.</summary>
    public int Count => _roles.Length;

    /// <summary>The listed threads' roles, in the listing's order.</summary>
    public ReadOnlySpan<ThreadRole> Roles => _roles;

    /// <summary>Lists every thread of this process; null where there is no <c>/proc/self/task</c> (not Linux).</summary>
    public static ThreadCpuTimes? TryList() => TryList(TaskDirectory);

    /// <summary>Lists the threads under <paramref name="taskDirectory"/> (one directory per thread id, each with a <c>stat</c> file).</summary>
    internal static ThreadCpuTimes? TryList(string taskDirectory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        _ = SecondsPerTick; // runs the class's initializer (sysconf) here, before any window, not in the first re-read
        var directory = Encoding.UTF8.GetBytes(taskDirectory.TrimEnd('/') + "/\0");
        return List(directory);
    }

    /// <summary>
    /// The listing itself, by <c>opendir</c>/<c>readdir</c> and this class's own methods only: no library method runs
    /// once per thread, so none is called often enough for the runtime to promote it later, in a window (remarks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    private static ThreadCpuTimes? List(byte[] nulTerminatedDirectory)
    {
        nint listing;
        fixed (byte* path = nulTerminatedDirectory)
        {
            listing = OpenDir(path);
        }

        if (listing == 0)
        {
            return null;
        }

        var paths = new byte[64][];
        var roles = new ThreadRole[64];
        var count = 0;
        try
        {
            for (var entry = ReadDir(listing); entry != 0; entry = ReadDir(listing))
            {
                var name = new ReadOnlySpan<byte>((byte*)entry + DirentNameOffset, 256);
                var length = 0;
                while (length < name.Length && name[length] != 0)
                {
                    length++;
                }

                name = name[..length];
                if (!IsThreadId(name))
                {
                    continue; // "." and ".."
                }

                // directory + id + "/stat" + NUL
                var path = new byte[nulTerminatedDirectory.Length - 1 + name.Length + 6];
                nulTerminatedDirectory.AsSpan(0, nulTerminatedDirectory.Length - 1).CopyTo(path);
                name.CopyTo(path.AsSpan(nulTerminatedDirectory.Length - 1));
                "/stat\0"u8.CopyTo(path.AsSpan(nulTerminatedDirectory.Length - 1 + name.Length));
                if (!ReadStat(path, out var role, out _))
                {
                    continue; // ended since the listing began
                }

                if (count == paths.Length)
                {
                    Array.Resize(ref paths, count * 2);
                    Array.Resize(ref roles, count * 2);
                }

                paths[count] = path;
                roles[count++] = role;
            }
        }
        finally
        {
            _ = CloseDir(listing);
        }

        Array.Resize(ref paths, count);
        Array.Resize(ref roles, count);
        var listed = new ThreadCpuTimes(paths, roles);
        var ticks = new long[count];
        listed.ReadTicks(ticks); // compiles the re-read's methods here, not at their first call in a window
        listed.AddSecondsBetween(ticks, ticks, new double[RoleCount]);
        return listed;
    }

    /// <summary>Whether a directory entry's name is all digits (a thread id).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    private static bool IsThreadId(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
        }

        return true;
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
                secondsByRole[(int)_roles[i]] += (after[i] - before[i]) * SecondsPerTick;
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
    /// Reads a thread's role (from its name) and its <c>utime + stime</c> from its <c>stat</c> line, without allocating
    /// and with plain loops (no library method: see the remarks). The name sits in parentheses and may hold spaces and
    /// parentheses itself (".NET TP Worker"), so the fields after it are counted from the line's last ')'.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    internal static bool TryParseStat(ReadOnlySpan<byte> line, out ThreadRole role, out long ticks)
    {
        role = ThreadRole.Other;
        ticks = 0;
        int open = -1, close = -1;
        for (var at = 0; at < line.Length; at++)
        {
            if (line[at] == (byte)'(' && open < 0)
            {
                open = at;
            }
            else if (line[at] == (byte)')')
            {
                close = at;
            }
        }

        if (open < 0 || close < open)
        {
            return false;
        }

        role = RoleOf(line[(open + 1)..close]);
        const int UserTime = 11, SystemTime = 12; // fields 14 and 15 of proc(5), counted from the state (field 3)
        long user = 0, system = 0;
        var i = close + 1;
        for (var field = 0; field <= SystemTime; field++)
        {
            while (i < line.Length && line[i] == (byte)' ')
            {
                i++;
            }

            var start = i;
            long number = 0;
            var digitsOnly = true;
            for (; i < line.Length && line[i] is not ((byte)' ' or (byte)'\n'); i++)
            {
                var c = line[i];
                digitsOnly &= c is >= (byte)'0' and <= (byte)'9';
                number = (number * 10) + (c - '0');
            }

            if (i == start || (field >= UserTime && !digitsOnly))
            {
                return false; // a missing field, or a time that is not a count
            }

            if (field == UserTime)
            {
                user = number;
            }
            else if (field == SystemTime)
            {
                system = number;
            }
        }

        ticks = user + system;
        return true;
    }

    /// <summary>The role a thread's name says it has (Linux keeps the first 15 bytes of a name).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    internal static ThreadRole RoleOf(ReadOnlySpan<byte> name)
        => Starts(name, "ipi-"u8) ? ThreadRole.Pipeline
            : Starts(name, "vcpu"u8) ? ThreadRole.Vcpu
            : Starts(name, "device"u8) ? ThreadRole.Device
            : Holds(name, "-consumer"u8) ? ThreadRole.ReferenceConsumer
            : Holds(name, "-producer"u8) ? ThreadRole.ReferenceProducer
            : ThreadRole.Other;

    /// <summary>Whether <paramref name="name"/> begins with <paramref name="prefix"/> (a plain loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    private static bool Starts(ReadOnlySpan<byte> name, ReadOnlySpan<byte> prefix)
    {
        if (name.Length < prefix.Length)
        {
            return false;
        }

        for (var i = 0; i < prefix.Length; i++)
        {
            if (name[i] != prefix[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="part"/> occurs in <paramref name="name"/> after its first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see the remarks
    private static bool Holds(ReadOnlySpan<byte> name, ReadOnlySpan<byte> part)
    {
        for (var at = 1; at + part.Length <= name.Length; at++)
        {
            if (Starts(name[at..], part))
            {
                return true;
            }
        }

        return false;
    }

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

    /// <summary>Where <c>d_name</c> sits in glibc's <c>struct dirent</c> on 64-bit Linux (after an 8-byte inode, an 8-byte offset, a 2-byte length and a type byte).</summary>
    private const int DirentNameOffset = 19;

    [LibraryImport("libc", EntryPoint = "opendir")]
    private static partial nint OpenDir(byte* path);

    [LibraryImport("libc", EntryPoint = "readdir")]
    private static partial nint ReadDir(nint listing);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(nint listing);
}
