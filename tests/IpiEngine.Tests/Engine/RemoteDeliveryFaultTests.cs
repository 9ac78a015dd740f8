using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// <see cref="Engine.DeliverRemote"/> on an engine whose pipeline failed: every record of the frame is still applied or
/// refused, and counted, before the failure is reported, since the link's sink takes the frame as done; and on an
/// engine not started, a frame it cannot take whole is refused before anything of it is applied.
/// </summary>
public class RemoteDeliveryFaultTests
{
    private sealed class NoLink : RemoteForwarder
    {
        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch) => batch.Length;

        internal override bool MayWaitForRoom(int node) => false; // it refuses at once: a link's sink may wait for room
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07, helper-50): an IOAPIC EOI from a peer vCPU was posted to that vCPU's ring, and
    /// on a faulted engine the post threw <see cref="EngineFaultedException"/>, which only a stop was caught for: the
    /// rest of the frame was neither applied nor counted.
    /// </summary>
    [Fact]
    public void A_faulted_engine_applies_or_refuses_and_counts_every_record_of_a_frame_with_an_eoi_in_it()
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            ThreadingMode = ThreadingMode.Inline,
            Placement = new VcpuPlacement([0, 1], 0),
            Forwarder = new NoLink(),
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = _ => throw new InvalidDataException("kick failed"),
        });
        engine.Start();
        _ = Record.Exception(() => engine.Post(0, ApicRegister.X2Icr, Unicast(0, 0x30), 0)); // delivered, kicked: the kick fails the engine
        Assert.IsType<EngineFaultedException>(Record.Exception(() => engine.Post(0, ApicRegister.X2Icr, Unicast(0, 0x31), 0)));
        var before = engine.ReadCounters();

        var failure = Record.Exception(() => engine.DeliverRemote(
        [
            new RemoteDelivery(1, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: 0x41, icrDestination: 0),
            new RemoteDelivery(2, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: RemoteDelivery.IoApicEoiFlag | 0x30, icrDestination: 0),
            new RemoteDelivery(3, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: 0x42, icrDestination: 0),
        ]));

        Assert.True(failure is null or EngineFaultedException, failure?.ToString());
        var pending = engine.TakePending(0);
        Assert.True(pending.IsPending(0x41) && pending.IsPending(0x42), "a record after the EOI was not applied");
        var after = engine.ReadCounters();
        long taken = after.RemoteDelivered + after.RemoteCoalesced + after.RemoteRejected - (before.RemoteDelivered + before.RemoteCoalesced + before.RemoteRejected);
        Assert.Equal(3, taken); // two IPIs applied, the EOI refused: all counted
        Assert.Equal(before.RemoteRejected + 1, after.RemoteRejected);
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07, helper-B): a peer vCPU's IOAPIC EOI is posted to that vCPU's ring here; before
    /// the start, with that ring full, the post threw <see cref="InvalidOperationException"/> after the frame's leading
    /// IPIs were applied, and the link's resend of the frame (after the start) applied them a second time.
    /// </summary>
    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.Inline)]
    public void A_frame_whose_eoi_finds_its_ring_full_before_the_start_is_refused_whole_and_applied_once_when_resent(ThreadingMode mode)
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            RingCapacity = 2,
            ThreadingMode = mode,
            Placement = new VcpuPlacement([0, 1], 0),
            Forwarder = new NoLink(),
        });
        var sink = new EngineSink(engine);
        sink.Deliver(1, [PeerEoi(1), PeerEoi(2)]); // vCPU 1's ring (the link's alone) is full now, and no pipeline runs
        RemoteDelivery[] frame =
        [
            new RemoteDelivery(3, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: 0x41, icrDestination: 0),
            new RemoteDelivery(4, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: 0x42, icrDestination: 0),
            PeerEoi(5),
        ];

        var refused = Record.Exception(() => sink.Deliver(1, frame));

        Assert.IsType<InvalidOperationException>(refused);
        Assert.Contains("not started", refused.Message, StringComparison.Ordinal);
        var afterRefusal = engine.ReadCounters();
        Assert.Equal(0, afterRefusal.RemoteDelivered + afterRefusal.RemoteCoalesced + afterRefusal.RemoteRejected); // nothing of the frame applied
        Assert.False(engine.HasPending(0), "an IPI of the refused frame was delivered");
        Assert.Equal(2, afterRefusal.Posted);

        engine.Start();
        sink.Deliver(1, frame); // the link's resend of the frame, whole
        engine.Stop();

        var pending = engine.TakePending(0);
        Assert.True(pending.IsPending(0x41) && pending.IsPending(0x42), "an IPI of the resent frame was not delivered");
        var after = engine.ReadCounters();
        Assert.Equal(2, after.RemoteDelivered + after.RemoteCoalesced); // each IPI once, not again on the resend
        Assert.Equal(0, after.RemoteRejected);
        Assert.Equal(3, after.Posted); // each EOI once
    }

    private static RemoteDelivery PeerEoi(ulong tag)
        => new(tag, 0, sourceVcpu: 1, destinationVcpu: 0, icrLow: RemoteDelivery.IoApicEoiFlag | 0x30, icrDestination: 0);
}
