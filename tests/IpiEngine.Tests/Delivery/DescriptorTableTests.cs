using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Delivery;

/// <summary>Posted-interrupt descriptors: layout, coalescing, SIPI, take, and concurrent post/take losing nothing.</summary>
public class DescriptorTableTests
{
    [Fact]
    public unsafe void Descriptors_are_64_bytes_on_64_byte_boundaries()
    {
        Assert.Equal(64, sizeof(PostedInterruptDescriptor));
        using var table = new DescriptorTable(3);
        for (int v = 0; v < 3; v++)
        {
            Assert.Equal(0, table.AddressOf(v) % 64);
        }

        Assert.Equal(IpiEngine.Rings.CacheLine.PaddedSize, table.AddressOf(1) - table.AddressOf(0)); // padded apart
    }

    [Fact]
    public void Or_of_bits_partly_pending_sets_the_rest_and_of_bits_all_pending_changes_nothing()
    {
        using var table = new DescriptorTable(1);
        const ulong a = 1UL << 5, b = 1UL << 40;
        Assert.Equal(0UL, table.OrVectors(0, 1, a));
        Assert.Equal(a, table.OrVectors(0, 1, a | b)); // b is new: must be written, not skipped because a is pending
        Assert.Equal(a | b, table.OrVectors(0, 1, a)); // all pending: reported as coalesced
        Assert.Equal(a | b, table.OrVectors(0, 1, a | b));
        PendingInterrupts pending = table.Take(0);
        Assert.Equal(2, pending.VectorCount);
        Assert.True(pending.IsPending(64 + 5));
        Assert.True(pending.IsPending(64 + 40));
        Assert.Equal(0UL, table.OrVectors(0, 1, a)); // taken: the next one is new again
    }

    [Fact]
    public void Or_reports_coalescing_and_take_clears_everything()
    {
        using var table = new DescriptorTable(2);
        Assert.Equal(0UL, table.OrVectors(1, 3, 1UL << (0xFD - 192)));
        Assert.NotEqual(0UL, table.OrVectors(1, 3, 1UL << (0xFD - 192))); // already pending: coalesces
        Assert.Equal(0UL, table.PostEvents(1, PostedInterruptDescriptor.NmiPending));
        Assert.True(table.RaiseNotification(1));
        Assert.False(table.RaiseNotification(1)); // ON already outstanding: no second notification
        Assert.True(table.PostSipi(1, 0x99));
        Assert.False(table.PostSipi(1, 0x10)); // one SIPI pending at a time: coalesces, the latest vector wins (KVM)
        Assert.True(table.HasPending(1));
        Assert.False(table.HasPending(0));

        PendingInterrupts pending = table.Take(1);
        Assert.True(pending.IsPending(0xFD));
        Assert.Equal(0xFD, pending.HighestVector);
        Assert.Equal(1, pending.VectorCount);
        Assert.True(pending.Nmi);
        Assert.True(pending.Sipi);
        Assert.Equal(0x10, pending.SipiVector);
        Assert.False(pending.Smi);
        Assert.False(pending.Init);
        Assert.False(table.HasPending(1));
        Assert.True(table.Take(1).IsEmpty);
        Assert.Equal(-1, table.Take(1).HighestVector);
    }

    [Fact]
    public void Bad_vcpu_and_disposed_table_are_clear_errors()
    {
        var table = new DescriptorTable(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Take(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.HasPending(-1));
        table.Dispose();
        table.Dispose();
        Assert.Throws<ObjectDisposedException>(() => table.Take(0));
    }

    [Fact]
    public void Concurrent_posting_and_taking_lose_no_vector_and_leave_none_without_notification()
    {
        // The deliverer posts vectors then the notification bit, notifying only when it was clear; the taker takes
        // when notified. Every vector posted must be taken by the end, and a pending one always has a notification.
        using var table = new DescriptorTable(1);
        const int Rounds = 200_000;
        int notified = 0;
        long taken = 0;
        bool done = false;
        var taker = new Thread(() =>
        {
            while (!Volatile.Read(ref done) || Volatile.Read(ref notified) != 0)
            {
                if (Interlocked.Exchange(ref notified, 0) != 0)
                {
                    taken += table.Take(0).VectorCount;
                }
            }
        });
        taker.Start();
        long posted = Deliver(table, Rounds, ref notified);

        Volatile.Write(ref done, true);
        Assert.True(taker.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(posted, taken);
        Assert.False(table.HasPending(0));
    }

    /// <summary>
    /// The deliverer's side of the concurrent tests, as the batcher does it: ORs one vector into vCPU 0's PIR per round,
    /// then raises the notification and sets <paramref name="notified"/> when that says to notify. Returns how many
    /// vectors went from clear to pending (what the taker must take).
    /// </summary>
    internal static long Deliver(DescriptorTable table, int rounds, ref int notified)
    {
        long posted = 0;
        for (int i = 0; i < rounds; i++)
        {
            int vector = 32 + (i % 200);
            ulong before = table.OrVectors(0, vector >> 6, 1UL << vector);
            posted += (before & (1UL << vector)) == 0 ? 1 : 0;
            if (table.RaiseNotification(0))
            {
                Volatile.Write(ref notified, 1);
            }
        }

        return posted;
    }
}
