namespace IpiEngine.Tests.Facade;

/// <summary>The x2APIC ICR values the engine tests post (one 64-bit write to MSR 0x830).</summary>
internal static class TestIcr
{
    /// <summary>
    /// A physical-destination IPI of <paramref name="vector"/> to x2APIC ID <paramref name="destination"/>: delivery
    /// mode <paramref name="mode"/> (bits 10:8, fixed by default), edge, level assert set as a guest writes it.
    /// </summary>
    public static ulong Unicast(uint destination, byte vector, uint mode = 0) => ((ulong)destination << 32) | vector | (mode << 8) | (1u << 14);
}
