using System.Runtime.InteropServices;

namespace IpiEngine.Rings;

/// <summary>A 64-bit value alone in its <see cref="CacheLine.PaddedSize"/> neighbourhood: padding before and after.</summary>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLine.PaddedSize)]
internal struct PaddedLong
{
    /// <summary>The value; callers choose the ordering (Volatile/Interlocked) at each access.</summary>
    [FieldOffset(CacheLine.PaddedSize)] public long Value;
}
