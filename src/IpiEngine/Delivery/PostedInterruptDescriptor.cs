using System.Runtime.InteropServices;

namespace IpiEngine.Delivery;

/// <summary>
/// One vCPU's posted-interrupt descriptor, 64 bytes on a 64-byte boundary in native memory (like VT-x's PI descriptor):
/// a 256-bit pending-vector bitmap (the PIR) and a control word with the NMI, SMI, INIT and SIPI pending flags, the
/// pending SIPI's vector and the outstanding-notification bit. Written only with atomic operations by
/// <see cref="DescriptorTable"/>; this type documents the layout (a C embedder sees the same bytes).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal readonly struct PostedInterruptDescriptor
{
    /// <summary>Control bit 0: an NMI is pending.</summary>
    public const ulong NmiPending = 1UL << 0;
    /// <summary>Control bit 1: an SMI is pending.</summary>
    public const ulong SmiPending = 1UL << 1;
    /// <summary>Control bit 2: an INIT is pending.</summary>
    public const ulong InitPending = 1UL << 2;
    /// <summary>Control bit 3: a start-up IPI is pending; its vector is in bits 15:8.</summary>
    public const ulong SipiPending = 1UL << 3;
    /// <summary>Control bits 15:8 hold the pending SIPI's vector.</summary>
    public const int SipiVectorShift = 8;
    /// <summary>Control bit 63: a notification is outstanding (cleared by the take, like VT-x's ON bit).</summary>
    public const ulong OutstandingNotification = 1UL << 63;
    /// <summary>The control bits that are pending interrupts.</summary>
    public const ulong FlagMask = NmiPending | SmiPending | InitPending | SipiPending;

    /// <summary>Vectors 0-63 pending (bit n = vector n).</summary>
    [FieldOffset(0)] public readonly ulong Pir0;
    /// <summary>Vectors 64-127 pending.</summary>
    [FieldOffset(8)] public readonly ulong Pir1;
    /// <summary>Vectors 128-191 pending.</summary>
    [FieldOffset(16)] public readonly ulong Pir2;
    /// <summary>Vectors 192-255 pending.</summary>
    [FieldOffset(24)] public readonly ulong Pir3;
    /// <summary>The control word (see the constants).</summary>
    [FieldOffset(32)] public readonly ulong Control;
    // Bytes 40-63: reserved (zero).
}
