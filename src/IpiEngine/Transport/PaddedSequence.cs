using System.Runtime.InteropServices;

namespace IpiEngine.Transport;

/// <summary>
/// A 64-bit cursor alone on its own 128-byte span (two cache lines, against adjacent-line prefetch), so that
/// cursors written by different threads never share a line. The transport's one statement of padding.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct PaddedSequence
{
    /// <summary>The cursor value; read and written with <see cref="Volatile"/> where threads meet.</summary>
    [FieldOffset(64)] public long Value;
}
