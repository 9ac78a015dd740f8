using System.Runtime.InteropServices;
using IpiEngine.Rings;

namespace IpiEngine.Workload;

/// <summary>
/// The phase every vCPU driver reads once per batch, alone on its padded line (written a few times per run,
/// read all the time), and the drivers' completion count on another.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 3 * CacheLine.PaddedSize)]
internal struct WorkloadPhaseState
{
    [FieldOffset(CacheLine.PaddedSize)] public int Current;
    [FieldOffset(CacheLine.PaddedSize + 8)] public long OpenedAt; // written once, before Current first reads Posting
    [FieldOffset(2 * CacheLine.PaddedSize)] public int Running;
    [FieldOffset(2 * CacheLine.PaddedSize + 8)] public long FinishedIpis;
}
