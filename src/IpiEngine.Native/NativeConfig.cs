using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>Mirror of <c>ipi_config_t</c>: how the host asks for an engine. 56 bytes on LP64 (asserted in C and in the tests).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeConfig
{
    /// <summary>The first layout's size: a caller built against ABI 1.0 passes at least this much.</summary>
    public const uint MinimumSize = 56;

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
}
