namespace IpiEngine.Apic;

/// <summary>
/// The APIC registers the engine understands, numbered as the hardware numbers them
/// (xAPIC MMIO offsets from the APIC page, or x2APIC MSR numbers). SDM Vol. 3A, "Local APIC Register Address Map"
/// and "x2APIC Register Address Space".
/// </summary>
public static class ApicRegister
{
    /// <summary>xAPIC APIC ID register: ID in bits 31:24.</summary>
    public const ushort Id = 0x020;
    /// <summary>xAPIC Logical Destination Register: logical ID in bits 31:24 (read-only in x2APIC mode).</summary>
    public const ushort Ldr = 0x0D0;
    /// <summary>xAPIC Destination Format Register: model in bits 31:28 (0xF flat, 0x0 cluster).</summary>
    public const ushort Dfr = 0x0E0;
    /// <summary>xAPIC Spurious Interrupt Vector Register: bit 8 = software enable.</summary>
    public const ushort Svr = 0x0F0;
    /// <summary>xAPIC ICR low: writing it sends the IPI.</summary>
    public const ushort IcrLow = 0x300;
    /// <summary>xAPIC ICR high (ICR2): latches the destination in bits 31:24, never sends.</summary>
    public const ushort IcrHigh = 0x310;
    /// <summary>IA32_APIC_BASE MSR: bit 11 global enable, bit 10 x2APIC mode.</summary>
    public const ushort ApicBase = 0x01B;
    /// <summary>x2APIC SVR MSR: bit 8 = software enable.</summary>
    public const ushort X2Svr = 0x80F;
    /// <summary>x2APIC ICR MSR: one 64-bit write, destination in bits 63:32; sends.</summary>
    public const ushort X2Icr = 0x830;
    /// <summary>x2APIC SELF IPI MSR: bits 7:0 = vector; a fixed, edge IPI to the writer.</summary>
    public const ushort X2SelfIpi = 0x83F;
    /// <summary>
    /// Not an APIC register: an MSI a device wrote (docs/apic.md, "Device interrupts"). Posted from a device source;
    /// value = data bits 31:0 in bits 63:32 and the address's low 32 bits in bits 31:0, destination id = address bits 63:32.
    /// The number recalls the MSI window 0xFEE00000.
    /// </summary>
    internal const ushort Msi = 0xFEE0;
    /// <summary>
    /// Not an APIC register: the firing half of a <c>KVM_HC_SEND_IPI</c> hypercall, value = a0 (bitmap of APIC IDs
    /// a2 .. a2 + 63), destination id = a2 (the lowest APIC ID); the upper half comes from <see cref="PvSendIpiHigh"/>.
    /// The number recalls KVM_HC_SEND_IPI = 10.
    /// </summary>
    internal const ushort PvSendIpi = 0xF10A;
    /// <summary>
    /// Not an APIC register: the latching half of a <c>KVM_HC_SEND_IPI</c> hypercall, posted just before
    /// <see cref="PvSendIpi"/> by the same vCPU: value = a1 (APIC IDs a2 + 64 .. a2 + 127), destination id = a3 (ICR low bits).
    /// </summary>
    internal const ushort PvSendIpiHigh = 0xF10B;
    /// <summary>xAPIC EOI register: the value is the vector whose handling ended (the hypervisor knows it from the ISR).</summary>
    internal const ushort Eoi = 0x0B0;
    /// <summary>x2APIC EOI MSR, as <see cref="Eoi"/>.</summary>
    internal const ushort X2Eoi = 0x80B;
    /// <summary>
    /// Not an APIC register: an IOAPIC redirection entry write (a vCPU's IOWIN write), value = the 64-bit entry,
    /// destination id = the pin. The number recalls the IOAPIC window 0xFEC00000.
    /// </summary>
    internal const ushort IoApicEntry = 0xFEC0;
    /// <summary>Not an APIC register: an IOAPIC input line changes level (a device source), value = 1 asserted / 0, destination id = the pin.</summary>
    internal const ushort IoApicPin = 0xFEC1;
    /// <summary>Stands for a register number that does not fit 16 bits; always rejected.</summary>
    internal const ushort Invalid = 0xFFFF;

    /// <summary>True for the registers whose write sends an IPI (an ICR high write only latches).</summary>
    internal static bool FiresIpi(ushort register) => register is IcrLow or X2Icr or X2SelfIpi or PvSendIpi;
}
