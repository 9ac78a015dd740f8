using System.Runtime.InteropServices;

namespace IpiEngine.Native;

/// <summary>
/// Mirror of <c>ipi_exit_t</c>: a trapped APIC register write exactly as the hypervisor hands it to userspace
/// (32 bytes). It differs from <see cref="ExitRecord"/>, whose layout is the rings' (16-bit vCPU and register,
/// a timestamp), so each record is converted once on the way in.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeExit
{
    public uint SourceVcpu;
    public uint Register;
    public ulong Value;
    public uint DestinationId;
    public uint Reserved;
    public ulong Tag;
}
