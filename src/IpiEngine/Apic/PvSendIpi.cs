using System.Numerics;

namespace IpiEngine.Apic;

/// <summary>
/// The <c>KVM_HC_SEND_IPI</c> hypercall (<c>Documentation/virt/kvm/x86/hypercalls.rst</c>; guest side
/// <c>__send_ipi_mask</c> in <c>arch/x86/kernel/kvm.c</c>; host side <c>kvm_pv_send_ipi</c> in
/// <c>arch/x86/kvm/lapic.c</c>): a0 and a1 are a 128-bit bitmap of physical APIC IDs starting at a2 (bit i of a0 is ID
/// a2 + i, bit i of a1 is ID a2 + 64 + i; 64-bit guests), a3 the ICR low bits (vector, delivery mode, level, trigger).
/// </summary>
/// <remarks>
/// Each set bit resolves as a physical ICR write to that APIC ID would (<see cref="DestinationMap"/>'s tables and its
/// acceptance rule); a lowest-priority request reaches every named APIC, as in KVM, which calls
/// <c>kvm_apic_set_irq</c> per bit without arbitration. Rejected, the whole call: ICR bits asking for a logical
/// destination or a shorthand (<see cref="RejectReason.InvalidHypercall"/>, KVM's <c>-KVM_EINVAL</c>); reserved delivery
/// modes 011 and 111; a fixed or lowest-priority vector below 16; a bit naming an APIC ID above the VM's highest
/// (<see cref="RejectReason.DestinationBeyondVm"/>: KVM skips such bits, the engine counts them as the guest's error).
/// </remarks>
internal static class PvSendIpi
{
    private const uint LogicalOrShorthand = (1u << 11) | (3u << 18); // KVM: APIC_DEST_MASK | APIC_SHORT_MASK

    /// <summary>Validates the call and resolves it into <paramref name="destinations"/> (cleared, large enough).</summary>
    public static RejectReason Resolve(DestinationMap map, ulong low, ulong high, uint first, uint icr, DestinationSet destinations)
    {
        uint mode = (icr >> 8) & 7;
        if ((icr & LogicalOrShorthand) != 0)
        {
            return RejectReason.InvalidHypercall;
        }

        if (mode is (uint)DeliveryMode.Reserved3 or (uint)DeliveryMode.Reserved7)
        {
            return RejectReason.ReservedDeliveryMode;
        }

        if (mode <= (uint)DeliveryMode.LowestPriority && (byte)icr < 16)
        {
            return RejectReason.IllegalVector;
        }

        if (Beyond(low, first, map.MaxApicId) || Beyond(high, first + 64, map.MaxApicId) || (high != 0 && first > uint.MaxValue - 64))
        {
            return RejectReason.DestinationBeyondVm;
        }

        // Lowest priority delivers to every bit (KVM), so the lookup runs as Fixed: same acceptance, no arbitration.
        uint lookup = mode == (uint)DeliveryMode.LowestPriority ? icr & ~(7u << 8) : icr;
        map.AddPhysicalIds(low, high, first, lookup, destinations);
        return RejectReason.None;
    }

    /// <summary>Whether a set bit names an APIC ID above <paramref name="maxApicId"/> (or past 2^32).</summary>
    private static bool Beyond(ulong bits, uint first, uint maxApicId)
    {
        if (bits == 0)
        {
            return false;
        }

        ulong highest = (ulong)first + (ulong)(63 - BitOperations.LeadingZeroCount(bits));
        return highest > maxApicId;
    }
}
