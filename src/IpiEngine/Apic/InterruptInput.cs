namespace IpiEngine.Apic;

/// <summary>Which guest action a fired or rejected record stands for (counted per kind: posted = resolved + rejected).</summary>
internal enum InterruptInput : byte
{
    /// <summary>An ICR write (xAPIC ICR low, x2APIC ICR, SELF IPI), or a record that is no interrupt at all.</summary>
    Icr,
    /// <summary>A message-signalled interrupt from a device source (<see cref="MsiMessage"/>).</summary>
    Msi,
    /// <summary>A <c>KVM_HC_SEND_IPI</c> hypercall from a vCPU (<see cref="PvSendIpi"/>).</summary>
    PvIpi,
    /// <summary>An IOAPIC record: a pin's level, a redirection entry write or an EOI (<see cref="IoApic"/>).</summary>
    IoApic,
}
