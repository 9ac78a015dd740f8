using System.Numerics;

namespace IpiEngine.Apic;

/// <summary>
/// One IOAPIC's 24 redirection entries, line levels and remote IRR bits, owned by the resolve thread
/// (<see cref="IcrResolver.Process"/>). An entry that fires becomes the MSI the IOAPIC would write, as QEMU's
/// <c>ioapic_service</c> (<c>hw/intc/ioapic.c</c>) sends it, so it resolves exactly like a device's MSI
/// (<see cref="MsiMessage"/>). Level semantics follow KVM's <c>arch/x86/kvm/ioapic.c</c>: <c>ioapic_set_irq</c>,
/// <c>ioapic_write_indirect</c>, <c>kvm_ioapic_update_eoi_one</c>.
/// </summary>
/// <remarks>
/// Entry (64 bits, 82093AA datasheet "I/O Redirection Table Registers"): 7:0 vector, 10:8 delivery mode, 11 destination
/// mode, 12 delivery status (read-only), 13 polarity, 14 remote IRR (read-only), 15 trigger (1 level), 16 mask,
/// 55:49 destination bits 14:8 (Linux's <c>virt_destid_8_14</c>), 63:56 destination bits 7:0. Reset: every pin masked.
/// A rising edge on an unmasked edge pin fires; an asserted level pin fires when its remote IRR is clear and sets it;
/// an EOI of its vector by any vCPU clears it and fires again if the line is still asserted (and the pin unmasked);
/// unmasking an asserted level pin fires. An assertion on a masked pin is refused (<see cref="RejectReason.MaskedPin"/>);
/// everything else that fires nothing only changes state.
/// </remarks>
internal sealed class IoApic
{
    /// <summary>KVM's <c>IOAPIC_NUM_PINS</c>.</summary>
    public const int PinCount = 24;

    private const ulong MaskBit = 1ul << 16;
    private const ulong LevelBit = 1ul << 15;
    private readonly ulong[] _entries = new ulong[PinCount];
    private uint _line; // bit per pin: asserted
    private uint _remoteIrr; // bit per pin: a level interrupt delivered and not yet EOI'd

    public IoApic()
    {
        Array.Fill(_entries, MaskBit);
    }

    /// <summary>What a record did to the IOAPIC.</summary>
    public enum Effect
    {
        /// <summary>State only: nothing to deliver now.</summary>
        StateOnly,
        /// <summary>Pins to deliver (their MSIs by <see cref="MsiOf"/>).</summary>
        Fire,
        /// <summary>Refused (see the reason).</summary>
        Rejected,
    }

    /// <summary>Whether the pin's remote IRR is set (tests, docs).</summary>
    public bool RemoteIrr(int pin) => (_remoteIrr & (1u << pin)) != 0;

    /// <summary>
    /// The asserted lines, one bit per pin, as the resolve thread last left them: for an observer on another thread
    /// (the generated workload's device and vCPU threads wait on it; docs/apic.md, "Generated workloads").
    /// </summary>
    public uint ObservedLines => Volatile.Read(ref _line); // acquire: pairs with the release in SetLine

    /// <summary>The remote IRR bits, one per pin, for an observer on another thread (see <see cref="ObservedLines"/>).</summary>
    public uint ObservedRemoteIrr => Volatile.Read(ref _remoteIrr); // acquire: pairs with the releases in WriteEntry, Eoi, Delivered

    /// <summary>The line changes level (a device thread's pin record). On <see cref="Effect.Fire"/>, <paramref name="pins"/> has the pin.</summary>
    public Effect SetLine(uint pin, bool asserted, out uint pins, out RejectReason reason)
    {
        pins = 0;
        reason = RejectReason.None;
        if (pin >= PinCount)
        {
            reason = RejectReason.UnknownPin;
            return Effect.Rejected;
        }

        uint bit = 1u << (int)pin;
        bool wasAsserted = (_line & bit) != 0;
        Volatile.Write(ref _line, asserted ? _line | bit : _line & ~bit); // release: an observer that sees the level sees the record processed
        ulong entry = _entries[pin];
        if (!asserted)
        {
            return Effect.StateOnly;
        }

        if ((entry & MaskBit) != 0)
        {
            reason = RejectReason.MaskedPin; // KVM keeps the level; unmasking a level pin delivers it then
            return Effect.Rejected;
        }

        if ((entry & LevelBit) == 0 ? wasAsserted : (_remoteIrr & bit) != 0)
        {
            return Effect.StateOnly; // no rising edge; or level, already delivered and waiting for its EOI
        }

        pins = bit;
        return Effect.Fire;
    }

    /// <summary>A redirection entry write (a vCPU's IOWIN write). Unmasking an asserted level pin fires it.</summary>
    public Effect WriteEntry(uint pin, ulong value, out uint pins, out RejectReason reason)
    {
        pins = 0;
        reason = RejectReason.None;
        if (pin >= PinCount)
        {
            reason = RejectReason.UnknownPin;
            return Effect.Rejected;
        }

        uint bit = 1u << (int)pin;
        _entries[pin] = value & ~((1ul << 12) | (1ul << 14)); // delivery status and remote IRR are read-only
        if ((value & LevelBit) == 0)
        {
            Volatile.Write(ref _remoteIrr, _remoteIrr & ~bit); // KVM ioapic_write_indirect: an edge entry has no remote IRR (release: for observers)
        }

        if ((value & (LevelBit | MaskBit)) == LevelBit && (_line & bit) != 0 && (_remoteIrr & bit) == 0)
        {
            pins = bit;
            return Effect.Fire;
        }

        return Effect.StateOnly;
    }

    /// <summary>An EOI of <paramref name="vector"/>: every level pin with that vector and remote IRR loses it; those still asserted and unmasked fire again.</summary>
    public Effect Eoi(byte vector, out uint pins)
    {
        pins = 0;
        for (uint waiting = _remoteIrr; waiting != 0; waiting &= waiting - 1)
        {
            int pin = BitOperations.TrailingZeroCount(waiting);
            ulong entry = _entries[pin];
            if ((byte)entry != vector)
            {
                continue;
            }

            uint bit = 1u << pin;
            Volatile.Write(ref _remoteIrr, _remoteIrr & ~bit); // release: an observer that sees it clear sees the EOI processed
            if ((entry & MaskBit) == 0 && (_line & bit) != 0)
            {
                pins |= bit;
            }
        }

        return pins != 0 ? Effect.Fire : Effect.StateOnly;
    }

    /// <summary>A pin's interrupt was delivered: a level entry's remote IRR is set until the EOI of its vector.</summary>
    public void Delivered(int pin)
    {
        if ((_entries[pin] & LevelBit) != 0)
        {
            Volatile.Write(ref _remoteIrr, _remoteIrr | (1u << pin)); // release: for observers (ObservedRemoteIrr)
        }
    }

    /// <summary>The MSI the pin's entry sends (record value and address bits 63:32, as <see cref="MsiMessage.Decode"/> takes them).</summary>
    public ulong MsiOf(int pin, out uint addressHigh)
    {
        ulong entry = _entries[pin];
        uint address = 0xFEE0_0000u | (uint)(entry >> 56) << 12 | (uint)((entry >> 49) & 0x7F) << 5 | (uint)((entry >> 11) & 1) << 2;
        uint data = (uint)(entry & 0xFF) | (uint)(entry & (7 << 8)) | (uint)(entry & LevelBit);
        addressHigh = 0;
        return MsiMessage.RecordValue(address, data);
    }
}
