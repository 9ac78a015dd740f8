namespace IpiEngine.Apic;

/// <summary>
/// The routing state of one local APIC: everything that decides whether it is a destination of an IPI.
/// </summary>
/// <param name="InitialId">The initial APIC ID (also the x2APIC ID: the engine, like QEMU, never changes it).</param>
/// <param name="XApicId">The xAPIC ID (APIC ID register bits 31:24), used while in xAPIC mode.</param>
/// <param name="LogicalId">The xAPIC logical ID (LDR bits 31:24), used while in xAPIC mode.</param>
/// <param name="DfrModel">The xAPIC DFR model (bits 31:28): 0xF flat, 0x0 cluster; anything else matches no logical address.</param>
/// <param name="SoftwareEnabled">SVR bit 8.</param>
/// <param name="GloballyEnabled">IA32_APIC_BASE bit 11.</param>
/// <param name="X2Apic">IA32_APIC_BASE bit 10: x2APIC mode.</param>
internal readonly record struct ApicState(
    uint InitialId, byte XApicId, byte LogicalId, byte DfrModel, bool SoftwareEnabled, bool GloballyEnabled, bool X2Apic)
{
    /// <summary>DFR model value of the flat model.</summary>
    public const byte DfrFlat = 0xF;

    /// <summary>DFR model value of the cluster model.</summary>
    public const byte DfrCluster = 0x0;

    /// <summary>The reset state (SDM Vol. 3A "Local APIC State After Power-Up or Reset"): globally enabled,
    /// software-disabled, xAPIC mode, LDR 0, DFR flat.</summary>
    public static ApicState Reset(uint initialId) => new(initialId, (byte)initialId, 0, DfrFlat, false, true, false);

    /// <summary>The APIC ID in the current mode: the 32-bit x2APIC ID or the 8-bit xAPIC ID.</summary>
    public uint CurrentId => X2Apic ? InitialId : XApicId;

    /// <summary>
    /// The x2APIC logical ID, derived from the x2APIC ID (SDM Vol. 3A "Logical Destination Mode in x2APIC Mode"):
    /// cluster (ID bits 31:4) in bits 31:16, one bit for ID bits 3:0 in bits 15:0.
    /// </summary>
    public uint X2ApicLdr => ((InitialId >> 4) << 16) | (1u << (int)(InitialId & 0xF));

    /// <summary>The LDR as the guest would read it in the current mode.</summary>
    public uint Ldr => X2Apic ? X2ApicLdr : (uint)LogicalId << 24;
}
