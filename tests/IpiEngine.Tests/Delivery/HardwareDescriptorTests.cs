using System.Runtime.InteropServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Delivery;

/// <summary>
/// The descriptor in VT-x's format (PIR bits 255:0, ON bit 256, SN bit 257, NV 279:272, NDST 319:288, the engine's
/// events in the reserved bytes) and SN: a running vCPU gets its bits but no notification.
/// </summary>
public class HardwareDescriptorTests
{

    [Fact]
    public unsafe void The_layout_is_the_hardware_posted_interrupt_descriptor()
    {
        Assert.Equal(64, sizeof(PostedInterruptDescriptor));
        Assert.Equal(0, (int)Marshal.OffsetOf<PostedInterruptDescriptor>(nameof(PostedInterruptDescriptor.Pir0)));
        Assert.Equal(24, (int)Marshal.OffsetOf<PostedInterruptDescriptor>(nameof(PostedInterruptDescriptor.Pir3)));
        Assert.Equal(32, (int)Marshal.OffsetOf<PostedInterruptDescriptor>(nameof(PostedInterruptDescriptor.Control)));
        Assert.Equal(40, (int)Marshal.OffsetOf<PostedInterruptDescriptor>(nameof(PostedInterruptDescriptor.Events)));

        using var table = new DescriptorTable(2);
        byte* d = (byte*)table.AddressOf(1);
        table.OrVectors(1, 3, 1UL << (0xF1 - 192));
        Assert.Equal(1 << (0xF1 % 8), d[0xF1 / 8]); // PIR: descriptor bit n is vector n

        Assert.True(table.RaiseNotification(1));
        Assert.Equal(1, d[32]); // ON: descriptor bit 256
        table.SetSuppressNotify(1, true);
        Assert.Equal(3, d[32]); // SN: descriptor bit 257
        Assert.Equal(0, d[34]); // NV (bits 279:272): the engine leaves it zero
        Assert.Equal(0u, *(uint*)(d + 36)); // NDST (bits 319:288)

        table.PostSipi(1, 0x9A);
        Assert.Equal((byte)PostedInterruptDescriptor.SipiPending, d[40]); // the engine's events, in the reserved bytes
        Assert.Equal(0x9A, d[41]);
        for (int i = 48; i < 64; i++)
        {
            Assert.Equal(0, d[i]);
        }

        PendingInterrupts taken = table.Take(1);
        Assert.True(taken.IsPending(0xF1) && taken.Sipi && taken.SipiVector == 0x9A);
        Assert.Equal(2, d[32]); // the take clears ON and keeps SN
        Assert.True(table.Read(1).Suppressed);
        Assert.False(table.Read(1).Outstanding);
    }

    [Fact]
    public void While_suppressed_deliveries_set_bits_without_notification_and_clearing_reports_them()
    {
        int notifications = 0;
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, NotifyCallback = _ => Interlocked.Increment(ref notifications) });
        Assert.False(engine.SetSuppressNotify(1, true));
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x40), 1);
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x02, mode: 4), 1); // NMI
        engine.DrainQueuedInline();

        Assert.Equal(0, Volatile.Read(ref notifications));
        PostedInterruptDescriptor seen = engine.Descriptors.Read(1);
        Assert.False(seen.Outstanding); // VT-d: with SN set, ON is not set either
        Assert.NotEqual(0UL, seen.Pir1 & (1UL << (0x40 - 64)));
        Assert.Equal(0L, engine.ReadCounters().Notifications);
        Assert.Equal(2L, engine.ReadCounters().Delivered);
        Assert.True(engine.HasPending(1)); // no ON while suppressed: the check reads the words too

        Assert.True(engine.SetSuppressNotify(1, false)); // pending: take before waiting
        Assert.True(engine.Descriptors.Read(1).Outstanding); // ON set by the clear: later deliveries need no notification
        PendingInterrupts taken = engine.TakePending(1);
        Assert.True(taken.IsPending(0x40) && taken.Nmi);

        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x41), 1);
        engine.DrainQueuedInline();
        Assert.Equal(1, Volatile.Read(ref notifications)); // not suppressed any more: notified
        Assert.False(engine.SetSuppressNotify(0, false)); // nothing pending for vCPU 0
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.SetSuppressNotify(2, true));
    }

    [Fact]
    public void A_vcpu_toggling_suppression_loses_no_vector_and_is_never_left_pending_without_a_notification()
    {
        // The deliverer posts vectors then raises the notification; the vCPU alternates between running (SN set,
        // taking by polling, then clearing SN and taking if the clear reports pending) and waiting for notifications.
        // Nothing may be stranded: every pending vector had a notification or a reporting clear.
        DescriptorTableTests.AssertEveryVectorTaken(
            takeNow: static (_, notified) => Interlocked.Exchange(ref notified.Value, 0) != 0,
            between: static (table, step) =>
            {
                if ((step & 1) != 0)
                {
                    return 0;
                }

                table.SetSuppressNotify(0, true);
                long taken = table.Take(0).VectorCount;
                if (table.SetSuppressNotify(0, false))
                {
                    taken += table.Take(0).VectorCount;
                }

                return taken;
            });
    }

    [Fact]
    public void A_vcpu_that_takes_only_when_the_check_says_pending_loses_no_vector()
    {
        // A vCPU that takes only when the pre-entry check says pending, and ignores notifications, must still get
        // every vector, and the check must say nothing is pending exactly when nothing is.
        DescriptorTableTests.AssertEveryVectorTaken(takeNow: static (table, _) => table.HasPending(0));
    }
}
