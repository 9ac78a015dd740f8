using System.Runtime.InteropServices;

namespace IpiEngine.Delivery;

/// <summary>
/// One vCPU's posted-interrupt descriptor in VT-x's own format (SDM Vol. 3C "Posted-Interrupt Processing", the VT-d
/// specification's posted-interrupt descriptor, KVM's <c>struct pi_desc</c>): 64 bytes on a 64-byte boundary in native
/// memory. Bits 255:0 are the PIR (one bit per vector); the control word at byte 32 has ON (bit 256, outstanding
/// notification), SN (bit 257, suppress notification), NV (bits 279:272) and NDST (bits 319:288). The engine keeps
/// its NMI, SMI, INIT and SIPI state in the first reserved word (byte 40), which the hardware ignores. Written only
/// with atomic operations by <see cref="DescriptorTable"/>; this type documents the layout (a C embedder sees the
/// same bytes, <c>ipi_pi_desc_t</c> in <c>ipi_engine.h</c>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal readonly struct PostedInterruptDescriptor
{
    /// <summary>Control bit 0 (descriptor bit 256), ON: a notification is outstanding (cleared by the take).</summary>
    public const ulong OutstandingNotification = 1UL << 0;
    /// <summary>Control bit 1 (descriptor bit 257), SN: the vCPU runs and wants no notification (it polls).</summary>
    public const ulong SuppressNotification = 1UL << 1;
    /// <summary>Control bits 23:16 (descriptor bits 279:272), NV: the notification vector (the engine leaves it 0).</summary>
    public const int NotificationVectorShift = 16;
    /// <summary>Control bits 63:32 (descriptor bits 319:288), NDST: the notification destination (the engine leaves it 0).</summary>
    public const int NotificationDestinationShift = 32;

    /// <summary>Events bit 0: an NMI is pending.</summary>
    public const ulong NmiPending = 1UL << 0;
    /// <summary>Events bit 1: an SMI is pending.</summary>
    public const ulong SmiPending = 1UL << 1;
    /// <summary>Events bit 2: an INIT is pending.</summary>
    public const ulong InitPending = 1UL << 2;
    /// <summary>Events bit 3: a start-up IPI is pending; its vector is in bits 15:8.</summary>
    public const ulong SipiPending = 1UL << 3;
    /// <summary>Events bits 15:8 hold the pending SIPI's vector.</summary>
    public const int SipiVectorShift = 8;
    /// <summary>The events bits that are pending interrupts.</summary>
    public const ulong FlagMask = NmiPending | SmiPending | InitPending | SipiPending;

    /// <summary>Byte offset of the control word (ON, SN, NV, NDST).</summary>
    public const int ControlOffset = 32;
    /// <summary>Byte offset of the engine's events word (NMI, SMI, INIT, SIPI and its vector), in the reserved bytes.</summary>
    public const int EventsOffset = 40;

    /// <summary>PIR vectors 0-63 pending (bit n = vector n).</summary>
    [FieldOffset(0)] public readonly ulong Pir0;
    /// <summary>PIR vectors 64-127 pending.</summary>
    [FieldOffset(8)] public readonly ulong Pir1;
    /// <summary>PIR vectors 128-191 pending.</summary>
    [FieldOffset(16)] public readonly ulong Pir2;
    /// <summary>PIR vectors 192-255 pending.</summary>
    [FieldOffset(24)] public readonly ulong Pir3;
    /// <summary>The control word: ON, SN, NV, NDST (see the constants).</summary>
    [FieldOffset(ControlOffset)] public readonly ulong Control;
    /// <summary>The engine's pending NMI/SMI/INIT/SIPI (in the hardware's reserved bytes; see the constants).</summary>
    [FieldOffset(EventsOffset)] public readonly ulong Events;
    // Bytes 48-63: reserved (zero).

    /// <summary>ON: a notification is outstanding.</summary>
    public bool Outstanding => (Control & OutstandingNotification) != 0;

    /// <summary>SN: notifications are suppressed (the vCPU runs).</summary>
    public bool Suppressed => (Control & SuppressNotification) != 0;
}
