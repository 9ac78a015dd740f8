using System.Runtime.InteropServices;

namespace IpiEngine.Delivery;

/// <summary>
/// One resolved delivery to a vCPU placed on another node: what the transport carries between hosts.
/// Blittable and exactly 32 bytes; its little-endian image is the wire record (see <c>docs/wire-format.md</c>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly struct RemoteDelivery
{
    /// <summary>The tag of the exit record that produced this delivery.</summary>
    [FieldOffset(0)] public readonly ulong Tag;

    /// <summary>Post timestamp of that exit record (<see cref="System.Diagnostics.Stopwatch"/> ticks of the sending host).</summary>
    [FieldOffset(8)] public readonly long PostTimestamp;

    /// <summary>The vCPU that sent the IPI.</summary>
    [FieldOffset(16)] public readonly uint SourceVcpu;

    /// <summary>The vCPU that receives it (placed on the receiving node).</summary>
    [FieldOffset(20)] public readonly uint DestinationVcpu;

    /// <summary>ICR bits 31:0 as written (vector, delivery mode, level, trigger, shorthand).</summary>
    [FieldOffset(24)] public readonly uint IcrLow;

    /// <summary>The destination field as written (ICR2 bits 31:24 in xAPIC mode, ICR bits 63:32 in x2APIC mode).</summary>
    [FieldOffset(28)] public readonly uint IcrDestination;

    /// <summary>Creates a delivery record.</summary>
    public RemoteDelivery(ulong tag, long postTimestamp, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
    {
        Tag = tag;
        PostTimestamp = postTimestamp;
        SourceVcpu = sourceVcpu;
        DestinationVcpu = destinationVcpu;
        IcrLow = icrLow;
        IcrDestination = icrDestination;
    }
}
