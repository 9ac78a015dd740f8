using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class InjectorSinkTests
{
    private sealed class Capture : IcrInjector
    {
        public List<IcrInjection> Seen { get; } = [];
        public override void Inject(ReadOnlySpan<IcrInjection> injections) => Seen.AddRange(injections);
    }

    [Theory]
    [InlineData(false, 0x0500_0000u)] // xAPIC: ICR2 bits 31:24 hold the 8-bit destination (SDM 11.6.1)
    [InlineData(true, 0x0000_0005u)]  // x2APIC: ICR bits 63:32 are the 32-bit destination (SDM 11.12.9)
    public void Forwarded_ipis_reach_the_injector_as_the_hypervisor_record(bool x2Apic, uint icrHigh)
    {
        var capture = new Capture();
        var deliveries = Enumerable.Range(0, FrameHeader.MaxRecordsPerFrame + 3)
            .Select(i => new RemoteDelivery((ulong)i, 0, 0, (uint)(i % 7), 0x0000_40FD, 5)).ToArray();
        new InjectorSink(capture, x2Apic).Deliver(1, deliveries);

        Assert.Equal(deliveries.Length, capture.Seen.Count); // more than one scratch buffer's worth, in order
        for (int i = 0; i < deliveries.Length; i++)
            Assert.Equal(new IcrInjection((uint)(i % 7), 0x0000_40FD, icrHigh, 5), capture.Seen[i]);
    }
}
