using System.Runtime.CompilerServices;

namespace IpiEngine.Apic;

/// <summary>
/// One firing ICR write, decoded: the ICR low bits (identical in xAPIC and x2APIC, SDM Vol. 3A "Interrupt Command
/// Register" and "x2APIC Interrupt Command Register") plus the full destination field.
/// </summary>
internal readonly struct IcrCommand : IEquatable<IcrCommand>
{
    private const uint SelfShorthandBits = 1u << 18;

    /// <summary>
    /// ICR low bits 31:20, reserved (SDM Vol. 3A "Interrupt Command Register"): the APIC ignores them, so a decoded guest
    /// write drops them. They must not travel: bit 31 of a forwarded delivery marks an IOAPIC EOI between nodes
    /// (<see cref="Delivery.RemoteDelivery.IoApicEoiFlag"/>), and a guest's IPI with it set arrived as an EOI, lost.
    /// </summary>
    public const uint ReservedLowBits = 0xFFF0_0000;

    /// <summary>
    /// The reserved bits of an x2APIC ICR's low half (KVM's <c>X2APIC_ICR_RESERVED_BITS</c>): 31:20, 17:16 and 13 (the
    /// delivery status bit 12 is not among them). A WRMSR that sets any of them faults (SDM Vol. 3A "Reserved Bit
    /// Checking" in the x2APIC chapter), so the resolver refuses the write (<see cref="RejectReason.ReservedBitsSet"/>).
    /// </summary>
    public const uint X2ApicReservedLowBits = ReservedLowBits | (3u << 16) | (1u << 13);

    private IcrCommand(uint low, uint destination, bool isX2Apic)
    {
        Low = low;
        Destination = destination;
        IsX2Apic = isX2Apic;
    }

    /// <summary>
    /// The ICR low 32 bits as written, less the reserved bits 31:20 of a guest's write (bit 12, delivery status, is
    /// read-only and ignored).
    /// </summary>
    public uint Low { get; }

    /// <summary>The destination field: xAPIC ICR high bits 31:24 (8 bits) or x2APIC ICR bits 63:32 (32 bits).</summary>
    public uint Destination { get; }

    /// <summary>True when the command came from the x2APIC ICR or SELF IPI MSR (32-bit destination).</summary>
    public bool IsX2Apic { get; }

    /// <summary>Bits 7:0.</summary>
    public byte Vector => (byte)Low;

    /// <summary>Bits 10:8.</summary>
    public DeliveryMode DeliveryMode => (DeliveryMode)((Low >> 8) & 7);

    /// <summary>Bit 11: logical (true) or physical (false) destination mode.</summary>
    public bool Logical => (Low & (1u << 11)) != 0;

    /// <summary>Bit 14: level assert (true) or de-assert (false).</summary>
    public bool LevelAssert => (Low & (1u << 14)) != 0;

    /// <summary>Bit 15: level (true) or edge (false) trigger mode.</summary>
    public bool LevelTriggered => (Low & (1u << 15)) != 0;

    /// <summary>Bits 19:18.</summary>
    public DestinationShorthand Shorthand => (DestinationShorthand)((Low >> 18) & 3);

    /// <summary>
    /// INIT with level de-assert and level trigger: delivers nothing on any processor since the Pentium 4
    /// (SDM Vol. 3A "Interrupt Command Register"; KVM <c>kvm_apic_send_ipi</c> drops it, QEMU <c>apic_deliver</c> too).
    /// </summary>
    public bool IsInitDeassert => (Low & 0xC700u) == 0x8500u;

    /// <summary>Decodes an xAPIC ICR low write with the sender's latched ICR high (destination = high bits 31:24).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IcrCommand FromXApic(uint low, uint latchedHigh) => new(low & ~ReservedLowBits, latchedHigh >> 24, false);

    /// <summary>Decodes a 64-bit x2APIC ICR write (MSR 0x830): low bits 31:0, destination bits 63:32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IcrCommand FromX2Apic(ulong icr) => new((uint)icr & ~ReservedLowBits, (uint)(icr >> 32), true);

    /// <summary>
    /// The x2APIC SELF IPI MSR (0x83F): a fixed, edge-triggered IPI with this vector to the writer
    /// (SDM Vol. 3A "SELF IPI Register"), expressed as the equivalent self-shorthand ICR.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IcrCommand SelfIpi(byte vector) => new(vector | SelfShorthandBits, 0, true);

    /// <summary>
    /// A command that did not come from an ICR (an MSI, a PV IPI lookup): <paramref name="low"/> in the ICR low layout and
    /// a destination that takes the 8-bit xAPIC tables below 0xFF and the 32-bit rules from 0xFF up (so 0xFF is APIC ID
    /// 255, not the xAPIC broadcast; callers that mean a broadcast pass 0xFFFFFFFF).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IcrCommand FromDevice(uint low, uint destination) => new(low, destination, destination >= 0xFF);

    /// <inheritdoc/>
    public bool Equals(IcrCommand other) => Low == other.Low && Destination == other.Destination && IsX2Apic == other.IsX2Apic;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is IcrCommand other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Low, Destination, IsX2Apic);

    /// <summary>Equality.</summary>
    public static bool operator ==(IcrCommand left, IcrCommand right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(IcrCommand left, IcrCommand right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString()
        => $"{DeliveryMode} vector 0x{Vector:x2} {(Logical ? "logical" : "physical")} dest 0x{Destination:x} shorthand {Shorthand}";
}
