using System.Runtime.InteropServices;

namespace IpiEngine.Perf.Calibration;

/// <summary>
/// The one counter the probe bounces between two cores, alone on its cache line. 128 bytes of
/// padding on each side keep it clear of the object header and of neighbours, including the
/// adjacent-line prefetcher's 128-byte pairs.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2 * PaddingBytes + sizeof(long))]
internal sealed class BouncedLine
{
    /// <summary>Padding on each side of the counter.</summary>
    public const int PaddingBytes = 128;

    /// <summary>Value that tells the partner thread to stop.</summary>
    public const long Stop = -1;

    /// <summary>
    /// Odd: the pinging thread's turn is over, the partner must answer with value + 1.
    /// Even: the partner answered. <see cref="Stop"/>: the partner exits.
    /// </summary>
    [FieldOffset(PaddingBytes)] public long Value;
}
