using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// <see cref="Engine.DeliverRemote"/> on an engine whose pipeline failed: every record of the frame is still applied or
/// refused, and counted, before the failure is reported, since the link's sink takes the frame as done.
/// </summary>
public class RemoteDeliveryFaultTests
{
    private sealed class NoLink : RemoteForwarder
    {
        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch) => batch.Length;
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
}
