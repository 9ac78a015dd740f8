using System.Runtime.InteropServices;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

public sealed class SegmentPoolTests
{
    [Fact]
    public void Segments_are_reused_so_the_pool_grows_only_to_the_most_in_use_at_once()
    {
        var pool = new SegmentPool(4096); // its own: the links' shared pools serve other tests at the same time
        // Warm up to a peak of three segments in use, then rent and return in bursts of at most three.
        var first = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();
        var arrays = first.Select(o => MemoryMarshal.TryGetArray<byte>(o.Memory, out var a) ? a.Array : null).ToHashSet();
        first.ForEach(o => o.Dispose());
        int allocated = pool.Allocated;
        for (int round = 0; round < 100; round++)
        {
            var burst = Enumerable.Range(0, 1 + (round % 3)).Select(_ => pool.Rent()).ToList();
            foreach (var owner in burst)
            {
                Assert.Equal(4096, owner.Memory.Length);
                Assert.True(MemoryMarshal.TryGetArray<byte>(owner.Memory, out var segment));
                Assert.Contains(segment.Array, arrays); // one of the warm-up's arrays, not a new one
            }

            burst.ForEach(o => o.Dispose());
        }

        Assert.Equal(allocated, pool.Allocated);
    }

    [Fact]
    public void A_second_dispose_of_one_rental_does_not_hand_the_segment_out_twice()
    {
        var pool = new SegmentPool(4096);
        var owner = pool.Rent();
        owner.Dispose();
        owner.Dispose();
        var a = pool.Rent();
        var b = pool.Rent();
        Assert.True(MemoryMarshal.TryGetArray<byte>(a.Memory, out var x));
        Assert.True(MemoryMarshal.TryGetArray<byte>(b.Memory, out var y));
        Assert.NotSame(x.Array, y.Array);
        Assert.Equal(2, pool.Allocated);
        a.Dispose();
        b.Dispose();
    }

    [Fact]
    public void A_request_larger_than_a_segment_is_refused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentPool(4096).Rent(4097));
}
