using System.Runtime.InteropServices;

namespace IpiEngine;

/// <summary>
/// One trapped APIC register write as the hypervisor hands it over, plus the engine's bookkeeping:
/// the caller's tag (a trace's <c>seq</c>, or anything the embedder likes) and the post timestamp.
/// Blittable and exactly 32 bytes so that two fit a cache line in the per-vCPU rings.
/// </summary>
/// <remarks>
/// Register numbers are the hardware's: xAPIC MMIO offsets (0x300 ICR low, 0x310 ICR high, ...) or
/// x2APIC MSR numbers (0x830 ICR, 0x83F SELF IPI, ...), see <see cref="Apic.ApicRegister"/>.
/// A register that does not fit 16 bits is stored as <see cref="Apic.ApicRegister.Invalid"/> and
/// rejected by the resolver as an unknown register.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public readonly struct ExitRecord
{
    /// <summary>The value written: 32 bits for xAPIC registers, 64 bits for the x2APIC ICR (MSR 0x830).</summary>
    [FieldOffset(0)] public readonly ulong Value;

    /// <summary>The caller's tag, returned with every delivery of this record's IPI.</summary>
    [FieldOffset(8)] public readonly ulong Tag;

    /// <summary><see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the record was posted (0 if not taken).</summary>
    [FieldOffset(16)] public readonly long PostTimestamp;

    /// <summary>Index of the vCPU that wrote the register (dense, from 0).</summary>
    [FieldOffset(24)] public readonly ushort SourceVcpu;

    /// <summary>The register written (MMIO offset or MSR number).</summary>
    [FieldOffset(26)] public readonly ushort Register;

    /// <summary>The destination id the hypervisor reported (informational: the engine keeps its own ICR2 latch).</summary>
    [FieldOffset(28)] public readonly uint DestinationId;

    /// <summary>Creates a record.</summary>
    public ExitRecord(ushort sourceVcpu, ushort register, ulong value, uint destinationId, ulong tag, long postTimestamp)
    {
        Value = value;
        Tag = tag;
        PostTimestamp = postTimestamp;
        SourceVcpu = sourceVcpu;
        Register = register;
        DestinationId = destinationId;
    }

    /// <summary>Creates a record from the hypervisor's 32-bit register number; numbers past 16 bits become <see cref="Apic.ApicRegister.Invalid"/>.</summary>
    public static ExitRecord Create(ushort sourceVcpu, uint register, ulong value, uint destinationId, ulong tag = 0, long postTimestamp = 0)
        => new(sourceVcpu, register <= 0xFFFE ? (ushort)register : Apic.ApicRegister.Invalid, value, destinationId, tag, postTimestamp);

    /// <summary>The same record with a post timestamp.</summary>
    public ExitRecord WithTimestamp(long timestamp) => new(SourceVcpu, Register, Value, DestinationId, Tag, timestamp);
}
