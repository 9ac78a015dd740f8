using System.Runtime.CompilerServices;
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
    // The layout, declared once: the fields below and WriteTo use these offsets.
    private const int TagAt = 0, PostTimestampAt = 8, SourceVcpuAt = 16, DestinationVcpuAt = 20, IcrLowAt = 24, IcrDestinationAt = 28;

    /// <summary>The caller's tag of the exit record that sent the IPI.</summary>
    [FieldOffset(TagAt)] public readonly ulong Tag;
    /// <summary>When the record was posted (ticks on the sending node).</summary>
    [FieldOffset(PostTimestampAt)] public readonly long PostTimestamp;
    /// <summary>The sending vCPU.</summary>
    [FieldOffset(SourceVcpuAt)] public readonly uint SourceVcpu;
    /// <summary>The destination vCPU.</summary>
    [FieldOffset(DestinationVcpuAt)] public readonly uint DestinationVcpu;
    /// <summary>The ICR low 32 bits as written (vector, delivery mode, destination mode, level, trigger, shorthand).</summary>
    [FieldOffset(IcrLowAt)] public readonly uint IcrLow;
    /// <summary>The ICR destination field as written (xAPIC: 8 bits; x2APIC: 32 bits).</summary>
    [FieldOffset(IcrDestinationAt)] public readonly uint IcrDestination;

    /// <summary>
    /// <see cref="IcrLow"/> bit 31 (reserved in the ICR, dropped from every guest ICR at decode): not an interrupt but a
    /// vCPU's write to the IOAPIC travelling to the node that owns it (<see cref="EngineOptions.IoApicNode"/>); its
    /// destination is that node's first vCPU. Without <see cref="IoApicEntryFlag"/>: an EOI of vector bits 7:0.
    /// </summary>
    internal const uint IoApicEoiFlag = 1u << 31;

    /// <summary>
    /// With <see cref="IoApicEoiFlag"/>: a redirection entry write instead of an EOI, packed by <see cref="PackEntryWrite"/>
    /// (pin in <see cref="IcrLow"/> bits 24:20, entry bits 16:0 in bits 16:0, entry bits 63:32 in <see cref="IcrDestination"/>;
    /// entry bits 31:17 are reserved and do not travel). One IOAPIC takes every node's writes, as the guest's one IOAPIC does.
    /// </summary>
    internal const uint IoApicEntryFlag = 1u << 30;

    private const uint EntryLowBits = 0x1_FFFF;
    private const int PinShift = 20;

    /// <summary>The <see cref="IcrLow"/> and <see cref="IcrDestination"/> of pin <paramref name="pin"/>'s entry write <paramref name="entry"/>.</summary>
    internal static (uint IcrLow, uint IcrDestination) PackEntryWrite(uint pin, ulong entry)
        => (IoApicEoiFlag | IoApicEntryFlag | (pin << PinShift) | ((uint)entry & EntryLowBits), (uint)(entry >> 32));

    /// <summary>The pin and entry of a delivery with <see cref="IoApicEntryFlag"/> (<see cref="PackEntryWrite"/>).</summary>
    internal static (uint Pin, ulong Entry) UnpackEntryWrite(in RemoteDelivery delivery)
        => ((delivery.IcrLow >> PinShift) & 0x1F, ((ulong)delivery.IcrDestination << 32) | (delivery.IcrLow & EntryLowBits));

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

    /// <summary>
    /// Writes a delivery field by field straight into <paramref name="slot"/> (a buffer's element). Built in a local and
    /// copied, the copy's one 32-byte load had to wait for the local's narrower stores to reach the cache (they cannot be
    /// forwarded to a wider load): the routed path's forward of every remote delivery paid that stall.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteTo(ref RemoteDelivery slot, ulong tag, long postTimestamp, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
    {
        ref byte at = ref Unsafe.As<RemoteDelivery, byte>(ref slot);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, TagAt), tag);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, PostTimestampAt), postTimestamp);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, SourceVcpuAt), sourceVcpu);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, DestinationVcpuAt), destinationVcpu);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, IcrLowAt), icrLow);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, IcrDestinationAt), icrDestination);
    }

    /// <summary>ICR bits 7:0.</summary>
    public byte Vector => (byte)IcrLow;

    /// <summary>ICR bits 10:8.</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((IcrLow >> 8) & 7);

    /// <summary>ICR bit 15: level (true) or edge trigger.</summary>
    public bool LevelTriggered => (IcrLow & (1u << 15)) != 0;
}
