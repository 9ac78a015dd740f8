namespace IpiEngine.Apic;

/// <summary>ICR bits 10:8 (SDM Vol. 3A, "Interrupt Command Register").</summary>
public enum DeliveryMode : byte
{
    /// <summary>000: the vector is delivered to every destination.</summary>
    Fixed = 0,
    /// <summary>001: the vector is delivered to one destination of the set (see the resolver for our rule).</summary>
    LowestPriority = 1,
    /// <summary>010: system management interrupt; vector ignored.</summary>
    Smi = 2,
    /// <summary>011: reserved; rejected.</summary>
    Reserved3 = 3,
    /// <summary>100: non-maskable interrupt; vector ignored.</summary>
    Nmi = 4,
    /// <summary>101: INIT (or INIT level de-assert, which delivers nothing).</summary>
    Init = 5,
    /// <summary>110: Start-Up IPI; the vector is the start page.</summary>
    StartUp = 6,
    /// <summary>111: reserved in the ICR; rejected.</summary>
    Reserved7 = 7,
}
