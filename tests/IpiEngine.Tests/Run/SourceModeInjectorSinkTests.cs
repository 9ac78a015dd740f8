using IpiEngine.Apic;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Delivery;
using IpiEngine.Tests.Transport;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// The trace nodes' kernel sink hands a frame on in runs of one APIC mode: a failure in a later run must say how many
/// arrivals the earlier runs took, or the link's resend of the whole frame injects them twice (review of 2026-12-07).
/// </summary>
public class SourceModeInjectorSinkTests
{
    [Fact]
    public void A_failure_in_a_later_run_reports_the_arrivals_the_earlier_runs_injected()
    {
        // Seq 1 and 2 are xAPIC writes, 3 and 4 x2APIC ones: two runs. The injector fails on vector 0x43 (seq 3).
        ExitRecord[] exits =
        [
            ExitRecord.Create(0, ApicRegister.IcrLow, 0x4041, 1, tag: 1), ExitRecord.Create(0, ApicRegister.IcrLow, 0x4042, 1, tag: 2),
            ExitRecord.Create(0, ApicRegister.X2Icr, 0x4043, 1, tag: 3), ExitRecord.Create(0, ApicRegister.X2Icr, 0x4044, 1, tag: 4),
        ];
        RemoteDelivery[] frame = [.. exits.Select(e => new RemoteDelivery(e.Tag, 0, 0, 1, (uint)e.Value, 1))];
        var injector = new InjectorSinkTests.FailsOnceOn(0x43);
        var arrivals = new TraceArrivals(new SourceModeInjectorSink(injector, exits));

        var partly = Assert.Throws<PartlyAppliedException>(() => arrivals.Deliver(1, frame));
        Assert.Equal(2, partly.Applied);
        Assert.IsType<IOException>(partly.InnerException);
        Assert.Equal([1ul, 2ul], arrivals.Arrived.Select(a => a.Tag)); // recorded as arrived: the link will not hand them again

        arrivals.Deliver(1, frame.AsSpan(partly.Applied)); // what the link hands again: the rest
        Assert.Equal([0x4041u, 0x4042u, 0x4043u, 0x4044u], injector.Seen.Select(i => i.IcrLow)); // each once, in order
        Assert.Equal([1ul, 2ul, 3ul, 4ul], arrivals.Arrived.Select(a => a.Tag));
    }
}
