using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace IpiEngine.Native;

/// <summary>
/// The detail of the last failed call on each thread, for <c>ipi_last_error</c>: which field, which vCPU, what the
/// engine said. Like <c>errno</c>, it is written only when a call fails (formatting a sentence allocates, which is
/// fine off the hot path) and never cleared by a success, so the fast path pays nothing.
/// </summary>
internal static class LastError
{
    [ThreadStatic]
    private static string? t_message;

    /// <summary>Records <paramref name="message"/> for this thread and returns <paramref name="status"/>.</summary>
    public static int Set(int status, string message)
    {
        t_message = message;
        return status;
    }

    /// <summary>Records the exception's message and returns the status it maps to.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // the slow path stays out of the inlined hot paths
    public static int From(Exception exception) => Set(Status.FromException(exception), exception.Message);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int BadHandle(ulong handle)
        => Set(Status.BadHandle, string.Create(CultureInfo.InvariantCulture, $"engine handle 0x{handle:x} is not a live engine (never created, or destroyed)"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int VcpuRange(uint vcpu, int vcpuCount)
        => Set(Status.VcpuRange, string.Create(CultureInfo.InvariantCulture, $"vCPU {vcpu} is out of range: the engine has vCPUs 0 to {vcpuCount - 1}"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int NullPointer(string argument) => Set(Status.NullPointer, argument + " is NULL");

    /// <summary>
    /// Copies the message as NUL-terminated UTF-8 into <paramref name="buffer"/>, truncated to
    /// <paramref name="capacity"/>, and returns its full length in bytes (0 when no call failed on this thread).
    /// </summary>
    public static unsafe int CopyTo(byte* buffer, uint capacity)
    {
        string message = t_message ?? string.Empty;
        byte[] utf8 = Encoding.UTF8.GetBytes(message);
        if (buffer is not null && capacity > 0)
        {
            int length = (int)Math.Min((uint)utf8.Length, capacity - 1);
            utf8.AsSpan(0, length).CopyTo(new Span<byte>(buffer, length));
            buffer[length] = 0;
        }
        return utf8.Length;
    }
}
