namespace IpiEngine.Apic;

/// <summary>Why a posted record produced no IPI. Every rejection is counted under one of these.</summary>
public enum RejectReason : byte
{
    /// <summary>Not rejected.</summary>
    None = 0,
    /// <summary>The source vCPU index is not one of the engine's vCPUs.</summary>
    UnknownSource,
    /// <summary>The register is not one the engine understands.</summary>
    UnknownRegister,
    /// <summary>Delivery mode 011 or 111 (SDM: reserved).</summary>
    ReservedDeliveryMode,
    /// <summary>Fixed or lowest-priority with a vector below 16 (SDM: "send illegal vector").</summary>
    IllegalVector,
    /// <summary>A shorthand the SDM does not allow with this delivery mode (lowest priority to self or all-including-self).</summary>
    InvalidShorthand,
    /// <summary>An xAPIC register written in x2APIC mode or an x2APIC MSR written in xAPIC mode (the hardware faults).</summary>
    WrongApicMode,
    /// <summary>
    /// The source APIC is globally disabled (IA32_APIC_BASE bit 11 clear). Not produced by <see cref="IcrResolver"/>, which
    /// follows QEMU and lets such an APIC send; kept for embedders that model the SDM's disabled MMIO interface.
    /// </summary>
    SourceDisabled,
    /// <summary>Dropped because the ring was full and the options asked for dropping.</summary>
    Dropped,
    /// <summary>A forwarded delivery named a destination vCPU that does not exist or is not on this node.</summary>
    InvalidRemoteDestination,
    /// <summary>Taken before the engine's pipeline failed, and never resolved (see <see cref="EngineFaultedException"/>).</summary>
    EngineFaulted,
    /// <summary>An MSI whose address is not in the interrupt window 0xFEExxxxx (a plain DMA write, not an interrupt).</summary>
    NotAnMsiAddress,
    /// <summary>
    /// A <c>KVM_HC_SEND_IPI</c> whose ICR bits (a3) ask for a logical destination or a shorthand (KVM: <c>-KVM_EINVAL</c>).
    /// </summary>
    InvalidHypercall,
    /// <summary>A <c>KVM_HC_SEND_IPI</c> bitmap bit names an APIC ID above the VM's highest one.</summary>
    DestinationBeyondVm,
    /// <summary>An IOAPIC pin whose redirection entry is masked (bit 16): the assertion is not delivered.</summary>
    MaskedPin,
    /// <summary>An IOAPIC pin number, or a device source, that the engine does not have.</summary>
    UnknownPin,
    /// <summary>
    /// An x2APIC ICR write (MSR 0x830) with a reserved bit set (31:20, 17:16 or 13), or an x2APIC SELF IPI write (MSR
    /// 0x83F) with a bit above 7: the SDM's reserved-bit checking raises #GP for the WRMSR, and KVM refuses it, so nothing
    /// is sent. (xAPIC ignores reserved ICR bits: there they are dropped, not refused.)
    /// </summary>
    ReservedBitsSet,
}
