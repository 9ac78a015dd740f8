using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Delivery;

/// <summary>The delivery log: appends in order, stamps the deliver time, counts overflow without allocating more.</summary>
public class DeliveryLogTests
{
    [Fact]
    public void Appends_then_counts_what_does_not_fit()
    {
        using var log = new DeliveryLog(3);
        var entry = new DeliveryLogEntry(new RemoteDelivery(7, 100, 1, 2, 0x80FD, 2), 0, remote: false);
        log.Append([entry, entry], 555);
        log.Append([entry, entry], 556);
        Assert.Equal(3, log.Count);
        Assert.Equal(1, log.Overflowed);
        Assert.Equal(555, log.Entries[0].DeliverTimestamp);
        Assert.Equal(556, log.Entries[2].DeliverTimestamp);
        Assert.Equal(7UL, log.Entries[2].Tag);
        Assert.Equal(IpiEngine.Apic.DeliveryMode.Fixed, log.Entries[0].DeliveryMode);
        Assert.Equal(0xFD, log.Entries[0].Vector);
        Assert.True(log.Entries[0].LevelTriggered);
        Assert.False(log.Entries[0].Remote);
    }

    [Fact]
    public void A_sampling_log_keeps_everything_while_it_fits_in_order()
    {
        using var log = new DeliveryLog(10, DeliveryLogMode.Sample);
        Feed(log, 7, batch: 3);
        Assert.Equal([0UL, 1, 2, 3, 4, 5, 6], log.Entries.ToArray().Select(e => e.Tag));
        Assert.Equal(0, log.Overflowed);
    }

    [Fact]
    public void A_sampling_log_keeps_an_even_sample_of_the_whole_stream_in_order()
    {
        const int Capacity = 1000;
        const int Total = 200_000;
        using var log = new DeliveryLog(Capacity, DeliveryLogMode.Sample);
        Feed(log, Total, batch: 0);

        ulong[] tags = log.Entries.ToArray().Select(e => e.Tag).ToArray();
        Assert.InRange(tags.Length, Capacity / 2, Capacity);
        Assert.Equal(Total - tags.Length, log.Overflowed);
        Assert.True(tags.Zip(tags.Skip(1)).All(pair => pair.First < pair.Second), "entries out of order or repeated");
        // Each tenth of the stream holds a tenth of the sample (one pick per block), not just the first deliveries.
        int[] perDecile = new int[10];
        foreach (ulong tag in tags)
        {
            perDecile[tag * 10 / Total]++;
        }

        Assert.All(perDecile, n => Assert.InRange(n, (tags.Length / 10) - 3, (tags.Length / 10) + 3));
        // A period of 16 in the traffic (say 16 vCPUs in turn) must not make the sample see one of them only.
        Assert.Equal(16, tags.Select(t => t % 16).Distinct().Count());

        using var again = new DeliveryLog(Capacity, DeliveryLogMode.Sample);
        Feed(again, Total, batch: 0);
        Assert.Equal(tags, again.Entries.ToArray().Select(e => e.Tag)); // fixed seed: the same stream, the same sample
    }

    /// <summary>Appends <paramref name="count"/> entries tagged 0, 1, ... in batches of <paramref name="batch"/> (0: random 1-300).</summary>
    private static void Feed(DeliveryLog log, int count, int batch)
    {
        var random = new Random(5);
        var buffer = new DeliveryLogEntry[300];
        for (int tag = 0; tag < count;)
        {
            int n = Math.Min(batch > 0 ? batch : random.Next(1, 301), count - tag);
            for (int i = 0; i < n; i++)
            {
                buffer[i] = new DeliveryLogEntry(new RemoteDelivery((ulong)(tag + i), 100, 1, 2, 0x80FD, 2), 0, remote: false);
            }

            log.Append(buffer.AsSpan(0, n), 555);
            tag += n;
        }
    }

    [Fact]
    public void Entries_after_disposal_are_refused()
    {
        var log = new DeliveryLog(1);
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.Entries.Length);
    }
}
