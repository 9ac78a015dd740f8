using System.Runtime.InteropServices;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Delivery;

/// <summary>The forwarded record's layout: the routed path's in-place write makes the same bytes as the constructor.</summary>
public class RemoteDeliveryTests
{
    [Theory]
    [InlineData(0x0123_4567_89AB_CDEFUL, -5L, 3u, 1023u, 0x0000_C4FDu, 0xFFFF_FFFFu)]
    [InlineData(ulong.MaxValue, long.MaxValue, uint.MaxValue, 0u, 0x8000_0030u, 7u)]
    public void WriteTo_writes_exactly_what_the_constructor_builds(ulong tag, long posted, uint source, uint destination, uint low, uint icrDestination)
    {
        var built = new RemoteDelivery(tag, posted, source, destination, low, icrDestination);
        var slots = new RemoteDelivery[3]; // the middle one written, its neighbours must stay zero
        RemoteDelivery.WriteTo(ref slots[1], tag, posted, source, destination, low, icrDestination);

        Assert.Equal(MemoryMarshal.AsBytes<RemoteDelivery>([built]).ToArray(), MemoryMarshal.AsBytes(slots.AsSpan(1, 1)).ToArray());
        Assert.All(MemoryMarshal.AsBytes(slots.AsSpan(0, 1)).ToArray(), b => Assert.Equal(0, b));
        Assert.All(MemoryMarshal.AsBytes(slots.AsSpan(2, 1)).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal((tag, posted, source, destination, low, icrDestination),
            (slots[1].Tag, slots[1].PostTimestamp, slots[1].SourceVcpu, slots[1].DestinationVcpu, slots[1].IcrLow, slots[1].IcrDestination));
    }
}
