using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>Mirror of <c>ipi_pending_t</c>: what a vCPU takes before re-entry (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativePending
{
    /// <summary><c>IPI_PENDING_NMI</c>.</summary>
    public const uint Nmi = 0x1;
    /// <summary><c>IPI_PENDING_SMI</c>.</summary>
    public const uint Smi = 0x2;
    /// <summary><c>IPI_PENDING_INIT</c>.</summary>
    public const uint Init = 0x4;
    /// <summary><c>IPI_PENDING_SIPI</c>: <see cref="SipiVector"/> is valid.</summary>
    public const uint Sipi = 0x8;

    /// <summary>Vector v pending = bit (v % 64) of word v / 64.</summary>
    public fixed ulong Vectors[4];
    public uint Flags;
    public uint SipiVector;
}
