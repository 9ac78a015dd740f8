using System.Runtime.CompilerServices;

namespace IpiEngine.Apic;

/// <summary>
/// Decodes a message-signalled interrupt (an address/data pair a device wrote) into the command the
/// <see cref="DestinationMap"/> resolves, as KVM's <c>kvm_set_msi_irq</c> (<c>arch/x86/kvm/irq_comm.c</c>) and
/// <c>x86_msi_msg_get_destid</c> (<c>arch/x86/kernel/apic/msi.c</c>) read it; the field layout is the SDM's
/// ("Message Signalled Interrupts", Vol. 3A 11.11) and Linux's <c>arch/x86/include/asm/msi.h</c>.
/// </summary>
/// <remarks>
/// Address: bits 31:20 = 0xFEE (else it is not an interrupt), 19:12 destination ID bits 7:0, 11:5 the extended
/// destination ID (destination bits 14:8, Linux's <c>virt_destid_8_14</c> under <c>KVM_FEATURE_MSI_EXT_DEST_ID</c>),
/// 3 redirection hint, 2 destination mode (1 logical); bits 63:40 of a 64-bit address carry destination bits 31:8
/// (KVM's x2APIC API format, <c>address_hi</c>). A guest uses one of the two extensions; both are OR-ed.
/// Data: bits 7:0 vector, 10:8 delivery mode, 15 trigger (1 level). KVM always asserts (<c>irq->level = 1</c>) and
/// uses no shorthand. Destination 0xFF without extension is a broadcast to every APIC, also in x2APIC mode (KVM's
/// <c>kvm_apic_mda</c> for a non-IPI). A redirection hint makes the interrupt lowest priority whatever its delivery mode,
/// as KVM's <c>kvm_lowest_prio_delivery</c> does: one destination, picked by the same rule as a lowest-priority IPI.
/// Rejected: an address outside 0xFEExxxxx; delivery modes 011 and 110 (reserved for MSIs by the SDM); a fixed or
/// lowest-priority vector below 16.
/// </remarks>
internal static class MsiMessage
{
    private const uint Window = 0xFEE;
    private const uint AssertBit = 1u << 14; // ICR layout: level assert, always set (KVM)

    /// <summary>The record's value for an address/data pair: data in bits 63:32, address bits 31:0 in bits 31:0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong RecordValue(ulong address, uint data) => ((ulong)data << 32) | (uint)address;

    /// <summary>
    /// Decodes an MSI posted as a record (<see cref="ApicRegister.Msi"/>: <paramref name="value"/> = data:address low,
    /// <paramref name="addressHigh"/> = address bits 63:32). Returns the rejection reason, or None with the command and
    /// whether the redirection hint asks for one destination.
    /// </summary>
    public static RejectReason Decode(ulong value, uint addressHigh, out IcrCommand command, out bool redirectionHint)
    {
        uint address = (uint)value;
        uint data = (uint)(value >> 32);
        redirectionHint = (address & (1u << 3)) != 0;
        uint destination = ((address >> 12) & 0xFF) | (((address >> 5) & 0x7F) << 8) | (addressHigh & 0xFFFF_FF00);
        if (destination == 0xFF)
        {
            destination = uint.MaxValue; // KVM kvm_apic_mda: a non-IPI 0xFF is a broadcast for x2APIC targets too
        }

        uint mode = (data >> 8) & 7;
        uint low = (data & 0xFF) | (mode << 8) | ((address & (1u << 2)) << 9) | AssertBit | (data & (1u << 15));
        command = IcrCommand.FromDevice(low, destination);
        if (address >> 20 != Window)
        {
            return RejectReason.NotAnMsiAddress;
        }

        // 011 and 110 are reserved for MSIs (SDM); 111 (ExtINT) KVM accepts and delivers nothing (__apic_accept_irq
        // leaves APIC_DM_EXTINT to the PIC path): refused here, so no destination is counted that nothing delivers.
        if (mode is (uint)DeliveryMode.Reserved3 or (uint)DeliveryMode.StartUp or (uint)DeliveryMode.Reserved7)
        {
            return RejectReason.ReservedDeliveryMode;
        }

        return mode <= (uint)DeliveryMode.LowestPriority && (byte)data < 16 ? RejectReason.IllegalVector : RejectReason.None;
    }
}
