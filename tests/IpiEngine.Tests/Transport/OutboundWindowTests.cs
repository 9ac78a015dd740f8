using System.Diagnostics;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>The link's outbound queue: FIFO by sequence through segment recycling, bounded, and cache-sized while the peer keeps up.</summary>
public class OutboundWindowTests
{
    private static RemoteDelivery Record(long sequence) => new((ulong)sequence, sequence, 1, 2, 0x4000u | (uint)(sequence & 0xFF), 7);

    private static RemoteDelivery[] Records(long first, int count)
    {
        var records = new RemoteDelivery[count];
        for (int i = 0; i < count; i++)
            records[i] = Record(first + i);
        return records;
    }

    /// <summary>
    /// Reads every record in [from, to) through <see cref="OutboundWindow.Slice"/> and checks each is the one appended with
    /// that sequence; then marks them sent, as the send loop does before its flush.
    /// </summary>
    private static void AssertSequence(OutboundWindow window, long from, long to, int maxPerSlice)
    {
        for (long s = from; s < to;)
        {
            var slice = window.Slice(s, to, maxPerSlice);
            Assert.True(slice.Length > 0, $"empty slice at {s} below {to}");
            for (int i = 0; i < slice.Length; i++)
                Assert.Equal((ulong)(s + i), slice[i].Tag);
            s += slice.Length;
        }
        window.MarkSent(to);
    }

    [Fact]
    public void Fills_to_capacity_refuses_then_takes_more_after_release()
    {
        var window = new OutboundWindow(8192);
        long appended = 0;
        while (true)
        {
            int n = window.Append(Records(appended, 1000));
            if (n == 0)
                break;
            appended += n;
        }
        Assert.Equal(8192, appended);
        Assert.Equal(0, window.Free);
        Assert.False(window.Release(1)); // queued, never sent: an acknowledgement of it is a lie (review of 2026-12-07)
        AssertSequence(window, 0, appended, 1024);
        Assert.True(window.Release(3000));
        Assert.Equal(3000, window.Free);
        int more = 0;
        while (window.Append(Records(appended + more, 500)) is var n && n > 0)
            more += n;
        Assert.Equal(3000, more);
        AssertSequence(window, 3000, appended + more, 1024);
        Assert.False(window.Release(appended + more + 1)); // never sent
    }

    [Fact]
    public void A_reserve_keeps_its_slots_for_the_caller_that_may_use_them()
    {
        var window = new OutboundWindow(4096);
        long appended = 0;
        while (window.Append(Records(appended, 700), reserve: 512) is var n && n > 0)
            appended += n;
        Assert.Equal(4096 - 512, appended);
        while (window.Append(Records(appended, 700)) is var n && n > 0)
            appended += n;
        Assert.Equal(4096, appended);
        AssertSequence(window, 0, appended, 4096);
    }

    [Fact]
    public void While_the_peer_keeps_up_the_same_few_segments_cycle()
    {
        // 1000 segments' worth of records through a 2^20-record queue, acknowledged a frame behind: the memory used
        // stays a few segments instead of walking the whole queue (the cause of the cross-node slowdown).
        var window = new OutboundWindow(1 << 20);
        long appended = 0;
        var batch = Records(0, 100);
        while (appended < 1000L * OutboundWindow.SegmentRecords)
        {
            for (int i = 0; i < batch.Length; i++)
                batch[i] = Record(appended + i);
            int n = 0;
            while (n < batch.Length)
                n += window.Append(batch.AsSpan(n));
            appended += n;
            AssertSequence(window, appended - n, appended, 1024);
            Assert.True(window.Release(Math.Max(0, appended - 1024)));
        }
        Assert.InRange(window.MostSlabsInUse, 1, 3);
    }

    [Fact]
    public void A_stalled_peer_uses_the_whole_queue_and_it_drains_in_order()
    {
        const int capacity = 1 << 15;
        var window = new OutboundWindow(capacity);
        long appended = 0;
        while (window.Append(Records(appended, 333)) is var n && n > 0)
            appended += n;
        Assert.Equal(capacity, appended);
        Assert.Equal(capacity / OutboundWindow.SegmentRecords, window.MostSlabsInUse);
        // Drain half-way through a segment and refill: the queue wraps through recycled slabs in sequence order.
        for (int round = 0; round < 20; round++)
        {
            long acked = window.Acked + capacity / 3 + 17;
            AssertSequence(window, window.Acked, appended, 1024);
            Assert.True(window.Release(acked));
            while (window.Append(Records(appended, 333)) is var n && n > 0)
                appended += n;
            Assert.Equal(0, window.Free);
        }
        AssertSequence(window, window.Acked, appended, 1024);
        Assert.True(window.MostSlabsInUse <= capacity / OutboundWindow.SegmentRecords + 1);
    }

    [Fact]
    public void Small_capacities_below_one_segment_work()
    {
        var window = new OutboundWindow(64);
        long appended = 0;
        for (int round = 0; round < 50; round++)
        {
            while (window.Append(Records(appended, 10)) is var n && n > 0)
                appended += n;
            AssertSequence(window, window.Acked, appended, 16);
            Assert.True(window.Release(appended - round % 7));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new OutboundWindow(100));
    }

    [Fact]
    public void Producer_and_sender_threads_see_every_record_once_in_order()
    {
        // The link's two sides on two threads: the producer appends whenever there is room, the sender reads from
        // its cursor and acknowledges a little behind it (as a peer would), checking every record's sequence.
        // A recycled slab read too early, a lost or a doubled record fails the check. Bounded in time.
        const int capacity = 1 << 13;
        var window = new OutboundWindow(capacity);
        long total = 4_000_000;
        var deadline = Stopwatch.StartNew();
        Exception? failure = null;
        var producer = new Thread(() =>
        {
            var batch = new RemoteDelivery[97];
            long next = 0;
            while (next < total && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                int count = (int)Math.Min(batch.Length, total - next);
                for (int i = 0; i < count; i++)
                    batch[i] = Record(next + i);
                int done = 0;
                while (done < count && deadline.Elapsed < TimeSpan.FromSeconds(60))
                {
                    int n = window.Append(batch.AsSpan(done, count - done));
                    if (n == 0)
                        Thread.Yield();
                    done += n;
                }
                next += done;
            }
        }) { IsBackground = true };
        var sender = new Thread(() =>
        {
            try
            {
                long cursor = 0;
                while (cursor < total && deadline.Elapsed < TimeSpan.FromSeconds(60))
                {
                    long published = window.Published;
                    if (cursor == published)
                    {
                        Thread.Yield();
                        continue;
                    }
                    var slice = window.Slice(cursor, published, 1024);
                    for (int i = 0; i < slice.Length; i++)
                    {
                        if (slice[i].Tag != (ulong)(cursor + i) || slice[i].PostTimestamp != cursor + i)
                            throw new InvalidOperationException($"record {cursor + i} read as {slice[i].Tag}");
                    }
                    cursor += slice.Length;
                    window.MarkSent(cursor);
                    window.Release(Math.Max(window.Acked, cursor - 700));
                }
                window.Release(cursor);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true };
        producer.Start();
        sender.Start();
        Assert.True(producer.Join(TimeSpan.FromSeconds(90)) && sender.Join(TimeSpan.FromSeconds(90)), "the threads did not finish");
        Assert.Null(failure);
        Assert.Equal(total, window.Published);
        Assert.Equal(total, window.Acked);
    }
}
