namespace IpiEngine.Workload;

/// <summary>
/// The kinds of IPI a Linux guest sends (arch/x86/include/asm/irq_vectors.h, arch/x86/kernel/smp.c), as the
/// workload generator draws them.
/// </summary>
internal enum IpiKind
{
    /// <summary>CALL_FUNCTION_SINGLE (vector 0xfb) to one other vCPU: <c>smp_call_function_single</c>.</summary>
    CallFunctionSingle,
    /// <summary>RESCHEDULE (vector 0xfd) to one other vCPU: <c>smp_send_reschedule</c>.</summary>
    Reschedule,
    /// <summary>CALL_FUNCTION (vector 0xfc) to a random set of other vCPUs: <c>smp_call_function_many</c>.</summary>
    CallFunction,
    /// <summary>A TLB shootdown: CALL_FUNCTION (0xfc) to the neighbours sharing the sender's address space.</summary>
    TlbShootdown,
    /// <summary>CALL_FUNCTION (0xfc) with the all-excluding-self shorthand (Linux's IPI shortcut when all CPUs are online).</summary>
    Broadcast,
    /// <summary>RESCHEDULE (0xfd) from every vCPU to one hot vCPU: most of these coalesce at the destination.</summary>
    Storm,
    /// <summary>
    /// CALL_FUNCTION (0xfc) to a random set of other vCPUs by the <c>KVM_HC_SEND_IPI</c> hypercall, as a guest that sees
    /// <c>KVM_FEATURE_PV_SEND_IPI</c> sends its multicasts (<c>arch/x86/kernel/kvm.c</c> <c>__send_ipi_mask</c>).
    /// </summary>
    PvIpi,
    /// <summary>
    /// A device's MSI (posted by a device thread on its own ring, not by a vCPU): random valid address/data to the
    /// topology's APIC IDs, physical or logical, fixed or lowest priority (<see cref="DeviceWorkload"/>).
    /// </summary>
    Msi,
    /// <summary>
    /// A device's IOAPIC pin: an edge pin pulses, a level pin stays asserted until its handler acks the device and its
    /// vCPU sends the EOI (<see cref="DeviceWorkload"/>, <see cref="LevelPinHandshake"/>).
    /// </summary>
    IoApic,
}
