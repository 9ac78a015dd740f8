using System.Runtime.CompilerServices;
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
        AssertEveryVectorTaken(takeNow: static (_, notified) => Interlocked.Exchange(ref notified.Value, 0) != 0);
    }

    /// <summary>
    /// Runs a vCPU thread against <see cref="Deliver"/> (200,000 rounds into vCPU 0): each step it takes when
    /// <paramref name="takeNow"/> says so (given the table and the deliverer's notification flag), leaves once the
    /// deliverer is done and a step finds nothing to take, and in between runs <paramref name="between"/> (given the
    /// step's number; returns what it took). Asserts that every vector delivered was taken and the words are left empty.
    /// </summary>
    internal static void AssertEveryVectorTaken(Func<DescriptorTable, StrongBox<int>, bool> takeNow, Func<DescriptorTable, int, long>? between = null)
    {
        using var table = new DescriptorTable(1);
        var notified = new StrongBox<int>();
        long taken = 0;
        bool done = false;
        var vcpu = new Thread(() =>
        {
            for (int i = 0; ; i++)
            {
                bool finished = Volatile.Read(ref done); // read before the check: a check after it that finds nothing means nothing is left
                if (takeNow(table, notified))
                {
                    taken += table.Take(0).VectorCount;
                }
                else if (finished)
                {
                    break;
                }

                taken += between?.Invoke(table, i) ?? 0;
            }
        }) { IsBackground = true };
        vcpu.Start();
        long posted = Deliver(table, 200_000, ref notified.Value);

        Volatile.Write(ref done, true);
        Assert.True(vcpu.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(posted, taken);
        PostedInterruptDescriptor left = table.Read(0);
        Assert.Equal(0UL, left.Pir0 | left.Pir1 | left.Pir2 | left.Pir3 | left.Events); // nothing stranded
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
