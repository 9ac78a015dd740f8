using System.Runtime.InteropServices;
using IpiEngine.Apic;

namespace IpiEngine.Delivery;

/// <summary>
/// One resolved delivery of one IPI to one destination vCPU: the entry the resolve stage hands to the deliver stage,
/// and the record forwarded to another node when the destination lives there. Carries the ICR low bits and the
/// destination field as the sender wrote them, so a KVM injector on the far side gets
/// <c>{target vCPU, ICR low, ICR high, destination id}</c>. Blittable, 32 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly struct RemoteDelivery
{
    /// <summary>The caller's tag of the exit record that sent the IPI.</summary>
    [FieldOffset(0)] public readonly ulong Tag;
    /// <summary>When the record was posted (ticks on the sending node).</summary>
    [FieldOffset(8)] public readonly long PostTimestamp;
    /// <summary>The sending vCPU.</summary>
    [FieldOffset(16)] public readonly uint SourceVcpu;
    /// <summary>The destination vCPU.</summary>
    [FieldOffset(20)] public readonly uint DestinationVcpu;
    /// <summary>The ICR low 32 bits as written (vector, delivery mode, destination mode, level, trigger, shorthand).</summary>
    [FieldOffset(24)] public readonly uint IcrLow;
    /// <summary>The ICR destination field as written (xAPIC: 8 bits; x2APIC: 32 bits).</summary>
    [FieldOffset(28)] public readonly uint IcrDestination;

    /// <summary>
    /// <see cref="IcrLow"/> bit 31 (reserved in the ICR): not an interrupt but a vCPU's EOI of vector bits 7:0 travelling
    /// to the node that owns the IOAPIC (<see cref="EngineOptions.IoApicNode"/>); its destination is that node's first vCPU.
    /// </summary>
    internal const uint IoApicEoiFlag = 1u << 31;

    /// <summary>Creates a delivery.</summary>
    public RemoteDelivery(ulong tag, long postTimestamp, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
    {
        Tag = tag;
        PostTimestamp = postTimestamp;
        SourceVcpu = sourceVcpu;
        DestinationVcpu = destinationVcpu;
        IcrLow = icrLow;
        IcrDestination = icrDestination;
    }

    /// <summary>ICR bits 7:0.</summary>
    public byte Vector => (byte)IcrLow;

    /// <summary>ICR bits 10:8.</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((IcrLow >> 8) & 7);

    /// <summary>ICR bit 15: level (true) or edge trigger.</summary>
    public bool LevelTriggered => (IcrLow & (1u << 15)) != 0;
}
