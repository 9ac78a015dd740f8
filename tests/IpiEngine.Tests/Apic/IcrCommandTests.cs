using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

public class IcrCommandTests
{
    [Fact]
    public void XApic_decoding_names_every_field_and_takes_the_latched_destination()
    {
        // 0x000C_CDFB: vector 0xFB, delivery INIT (101), logical, level assert, level trigger, all-excluding-self.
        IcrCommand command = IcrCommand.FromXApic(0x000C_CDFB, 0x2A00_0000);

        Assert.Equal(0xFB, command.Vector);
        Assert.Equal(DeliveryMode.Init, command.DeliveryMode);
        Assert.True(command.Logical);
        Assert.True(command.LevelAssert);
        Assert.True(command.LevelTriggered);
        Assert.Equal(DestinationShorthand.AllExcludingSelf, command.Shorthand);
        Assert.Equal(0x2Au, command.Destination);
        Assert.False(command.IsX2Apic);
        Assert.False(command.IsInitDeassert);
        Assert.Equal(0x000C_CDFBu, command.Low);
    }

    [Fact]
    public void X2Apic_decoding_takes_the_32_bit_destination_from_bits_63_to_32()
    {
        IcrCommand command = IcrCommand.FromX2Apic(0x0001_0003_0000_48FBul);

        Assert.Equal(0x0001_0003u, command.Destination);
        Assert.Equal(DeliveryMode.Fixed, command.DeliveryMode);
        Assert.True(command.Logical);
        Assert.True(command.IsX2Apic);
        Assert.Equal(DestinationShorthand.None, command.Shorthand);
    }

    [Theory]
    [InlineData(0x8500u, true)] // INIT, level de-assert, level trigger
    [InlineData(0xC500u, false)] // INIT, level assert
    [InlineData(0x0500u, false)] // INIT, edge
    [InlineData(0x8400u, false)] // NMI with the same level bits
    [InlineData(0x9500u, true)] // delivery status bit 12 is ignored
    public void Init_deassert_is_init_with_level_0_and_level_trigger(uint low, bool deassert)
        => Assert.Equal(deassert, IcrCommand.FromXApic(low, 0).IsInitDeassert);

    [Fact]
    public void Self_ipi_is_a_fixed_edge_ipi_to_self()
    {
        IcrCommand command = IcrCommand.SelfIpi(0x40);

        Assert.Equal(0x40, command.Vector);
        Assert.Equal(DeliveryMode.Fixed, command.DeliveryMode);
        Assert.Equal(DestinationShorthand.Self, command.Shorthand);
        Assert.False(command.LevelTriggered);
    }
}
