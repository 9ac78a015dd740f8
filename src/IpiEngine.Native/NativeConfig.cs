using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>
/// Mirror of <c>ipi_config_t</c>: how the host asks for an engine. 80 bytes on LP64; 64 before ABI 1.6 and 56 before
/// ABI 1.4 (asserted in C and in the tests).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeConfig
{
    /// <summary>The first layout's size: a caller built against ABI 1.0 passes at least this much.</summary>
    public const uint MinimumSize = 56;

    /// <summary>The size from which <see cref="ApicIdCount"/> and <see cref="Reserved"/> are present (ABI 1.4).</summary>
    public const uint ApicIdCountSize = 64;

    /// <summary>The size from which <see cref="PipelineCpus"/>, <see cref="PipelineCpuCount"/> and <see cref="Reserved2"/> are present (ABI 1.6).</summary>
    public const uint PipelineCpusSize = 80;

    public uint StructSize;
    public uint VcpuCount;
    public uint Topology;
    public uint Flags;
    public uint RingCapacity;
    public uint ThreadingMode;
    public uint WaitStrategy;
    public uint BackPressure;
    public uint* ApicIds;
    public delegate* unmanaged<nint, uint, void> Kick;
    public nint KickContext;
    public uint ApicIdCount; // ABI 1.4
    public uint Reserved;    // ABI 1.4
    public uint* PipelineCpus;     // ABI 1.6
    public uint PipelineCpuCount;  // ABI 1.6
    public uint Reserved2;         // ABI 1.6
}
