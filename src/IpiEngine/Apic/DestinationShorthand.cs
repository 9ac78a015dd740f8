namespace IpiEngine.Apic;

/// <summary>ICR bits 19:18 (SDM Vol. 3A, "Interrupt Command Register").</summary>
internal enum DestinationShorthand : byte
{
    /// <summary>00: the destination field and destination mode select the targets.</summary>
    None = 0,
    /// <summary>01: the sender only.</summary>
    Self = 1,
    /// <summary>10: every APIC, the sender included.</summary>
    AllIncludingSelf = 2,
    /// <summary>11: every APIC but the sender.</summary>
    AllExcludingSelf = 3,
}
