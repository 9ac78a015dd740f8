using System.Runtime.InteropServices;

namespace IpiEngine.Transport;

/// <summary>
/// One forwarded IPI in the form a distributed-VM hypervisor's inject ioctl takes
/// (<c>{target vCPU, ICR low, ICR high, destination id}</c>). Blittable, 16 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct IcrInjection(uint TargetVcpu, uint IcrLow, uint IcrHigh, uint DestinationId);
