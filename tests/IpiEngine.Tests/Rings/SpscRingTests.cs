using CsCheck;
using IpiEngine.Rings;
using Xunit;

namespace IpiEngine.Tests.Rings;

/// <summary>The SPSC ring: edges, wrap-around, a model-based property, and a producer/consumer pair under load.</summary>
public class SpscRingTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public void Capacity_must_be_a_power_of_two_of_at_least_two(int capacity)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<long>(capacity));

    [Theory]
    [InlineData(1 << 26)] // 32-byte records: 2^31 bytes, negative as an int
    [InlineData(1 << 27)] // wrapped to 0 bytes: a 64-byte block the ring believed held 2^27 records
    [InlineData(1 << 30)]
    public void A_capacity_whose_storage_exceeds_an_array_is_refused_before_allocating(int capacity)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<ExitRecord>(capacity));
        Assert.Contains("at most", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Full_and_empty_edges()
    {
        var ring = new SpscRing<long>(4);
        Assert.False(ring.TryRead(out _));
        Assert.True(ring.IsEmpty);
        for (long i = 0; i < 4; i++)
        {
            Assert.True(ring.TryWrite(i));
        }

        Assert.False(ring.TryWrite(99));
        Assert.Equal(0, ring.FreeSpace());
        Assert.Equal(0, ring.TryWrite([7L, 8L]));
        Assert.True(ring.TryRead(out long first));
        Assert.Equal(0, first);
        Assert.Equal(1, ring.FreeSpace());
        Assert.Equal(1, ring.TryWrite([4L, 5L])); // only one fits
        var rest = new long[8];
        Assert.Equal(4, ring.TryRead(rest));
        Assert.Equal(new long[] { 1, 2, 3, 4 }, rest[..4]);
        Assert.True(ring.IsEmpty);
        Assert.Equal(5, ring.PublishedCount);
        Assert.Equal(5, ring.ConsumedCount);
    }

    [Fact]
    public void Peek_contiguous_splits_at_the_wrap_point()
    {
        var ring = new SpscRing<int>(8);
        Assert.Equal(6, ring.TryWrite([0, 1, 2, 3, 4, 5]));
        var sink = new int[6];
        Assert.Equal(6, ring.TryRead(sink)); // head and tail now at 6
        Assert.Equal(5, ring.TryWrite([6, 7, 8, 9, 10]));
        ReadOnlySpan<int> first = ring.PeekContiguous();
        Assert.Equal(new[] { 6, 7 }, first.ToArray()); // up to the end of the buffer
        ring.Advance(first.Length);
        Assert.Equal(new[] { 8, 9, 10 }, ring.PeekContiguous().ToArray());
        Assert.Equal(new[] { 8, 9 }, ring.PeekContiguous(2).ToArray());
    }

    [Fact]
    public void Producer_span_ends_at_the_wrap_point()
    {
        var ring = new SpscRing<int>(8);
        Assert.Equal(6, ring.TryWrite([0, 1, 2, 3, 4, 5]));
        Assert.Equal(6, ring.TryRead(new int[6])); // head and tail now at 6
        Span<int> first = ring.ProducerSpan(0, 5);
        Assert.Equal(2, first.Length); // slots 6 and 7, up to the end of the buffer
        first.Fill(1);
        Span<int> second = ring.ProducerSpan(first.Length, 5 - first.Length);
        Assert.Equal(3, second.Length); // slots 0 to 2, after the wrap
        second.Fill(2);
        Assert.Equal(2, ring.ProducerSpan(1, 1).Length + ring.ProducerSpan(3, 1).Length); // any offset: one slot each
        ring.Publish(5);
        var read = new int[5];
        Assert.Equal(5, ring.TryRead(read));
        Assert.Equal(new[] { 1, 1, 2, 2, 2 }, read);
    }

    [Fact]
    public void Behaves_like_a_bounded_queue_for_any_sequence_of_operations()
    {
        // Model-based: random batch writes and reads against Queue<int> with the same bound.
        Gen.Int[1, 5].Select(log => 1 << log).Select(capacity => (new SpscRing<int>(capacity), new BoundedFifoModel(capacity)))
            .SampleModelBased(
                Gen.Int[0, 9].Array[0, 12].Operation<SpscRing<int>, BoundedFifoModel>(
                    (ring, items) => ring.TryWrite(items),
                    (model, items) => model.Write(items)),
                Gen.Int[0, 12].Operation<SpscRing<int>, BoundedFifoModel>(
                    (ring, n) => ring.TryRead(new int[n]),
                    (model, n) => model.Read(n)),
                equal: (ring, model) => ring.PublishedCount - ring.ConsumedCount == model.Items.Count
                                        && Snapshot(ring).SequenceEqual(model.Items),
                iter: 300);
    }

    [Fact]
    public void Producer_and_consumer_threads_lose_duplicate_and_reorder_nothing_across_wrap_arounds()
    {
        const int Count = 200_000;
        var ring = new SpscRing<long>(64);
        var producer = new Thread(() =>
        {
            var random = new Random(1);
            var batch = new long[40];
            long next = 0;
            while (next < Count)
            {
                int size = (int)Math.Min(random.Next(1, batch.Length), Count - next);
                for (int i = 0; i < size; i++)
                {
                    batch[i] = next + i;
                }

                int written = 0;
                while (written < size)
                {
                    int n = ring.TryWrite(batch.AsSpan(written, size - written));
                    written += n;
                    if (n == 0)
                    {
                        Thread.Yield();
                    }
                }

                next += size;
            }
        }) { IsBackground = true };
        producer.Start();

        var consumerRandom = new Random(2);
        var buffer = new long[50];
        long expected = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (expected < Count && DateTime.UtcNow < deadline)
        {
            int n = consumerRandom.Next(3) == 0 ? ring.TryRead(buffer.AsSpan(0, consumerRandom.Next(1, buffer.Length))) : ReadByPeek(ring, buffer);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(expected++, buffer[i]);
            }

            if (n == 0)
            {
                Thread.Yield();
            }
        }

        Assert.True(producer.Join(TimeSpan.FromSeconds(60)), "the producer did not finish within 60 s");
        Assert.Equal(Count, expected);
        Assert.True(ring.IsEmpty);
    }

    private static int ReadByPeek(SpscRing<long> ring, long[] buffer)
    {
        ReadOnlySpan<long> run = ring.PeekContiguous(buffer.Length);
        run.CopyTo(buffer);
        ring.Advance(run.Length);
        return run.Length;
    }

    private static List<int> Snapshot(SpscRing<int> ring)
    {
        // Reads everything and writes it back: the ring's content in order, state unchanged.
        var items = new int[ring.Capacity];
        int n = ring.TryRead(items);
        ring.TryWrite(items.AsSpan(0, n));
        return [.. items[..n]];
    }

    /// <summary>The model: a queue that refuses what exceeds its bound.</summary>
    public sealed class BoundedFifoModel(int capacity)
    {
        public Queue<int> Items { get; } = new();

        public void Write(int[] items)
        {
            foreach (int item in items)
            {
                if (Items.Count == capacity)
                {
                    return;
                }

                Items.Enqueue(item);
            }
        }

        public void Read(int n)
        {
            for (int i = 0; i < n && Items.Count > 0; i++)
            {
                Items.Dequeue();
            }
        }

        public override string ToString() => string.Join(',', Items);
    }
}
