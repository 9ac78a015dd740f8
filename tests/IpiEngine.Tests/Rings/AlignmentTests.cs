using IpiEngine.Delivery;
using IpiEngine.Rings;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>Ring slots start on a cache line (a 32-byte record never straddles two); descriptors are line-aligned and a padded line apart.</summary>
public class AlignmentTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(64)]
    [InlineData(4096)]
    public void Every_ring_slot_of_a_32_byte_record_lies_within_one_cache_line(int capacity)
    {
        for (int attempt = 0; attempt < 8; attempt++) // several allocations: different start addresses
        {
            var ring = new SpscRing<ExitRecord>(capacity);
            Assert.Equal(0, ring.SlotAddress(0) % CacheLine.Size);
            for (long index = 0; index < capacity; index++)
            {
                nint address = ring.SlotAddress(index);
                Assert.Equal(address / CacheLine.Size, (address + 31) / CacheLine.Size);
            }
        }
    }

    [Fact]
    public void Descriptors_are_line_aligned_and_padded_apart()
    {
        using var table = new DescriptorTable(5);
        for (int v = 0; v < 5; v++)
        {
            Assert.Equal(0, table.AddressOf(v) % CacheLine.Size);
        }

        Assert.Equal(CacheLine.PaddedSize, table.AddressOf(1) - table.AddressOf(0));
    }
}
