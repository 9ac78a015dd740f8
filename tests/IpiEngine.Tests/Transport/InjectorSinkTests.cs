using IpiEngine.Apic;
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

    private sealed class Nowhere : RemoteForwarder
    {
        public override int Forward(int node, ReadOnlySpan<RemoteDelivery> batch) => 0;
    }

    [Fact]
    public void On_the_ioapic_node_entry_writes_from_other_nodes_reach_the_engines_ioapic_not_the_kernel()
    {
        // Node 0 holds the VM's IOAPIC and injects IPIs through the kernel. Node 1's vCPU 2 programs pin 3 (fixed 0x46 to
        // APIC ID 0, edge, unmasked) between two IPIs. The sink used to inject the entry write as a third "IPI" to vCPU 0,
        // and the pin stayed masked: the device's interrupt was lost.
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical),
            Placement = new VcpuPlacement([0, 0, 1, 1], 0),
            Forwarder = new Nowhere(),
            IoApicNode = 0,
            DeviceSources = 1,
        });
        engine.Start();
        var capture = new Capture();
        var entry = RemoteDelivery.PackEntryWrite(3, 0x46);
        RemoteDelivery[] fromNode1 =
        [
            new(1, 0, 2, 0, 0x0000_40FD, 0),
            new(2, 0, 2, 0, entry.IcrLow, entry.IcrDestination),
            new(3, 0, 3, 1, 0x0000_40FC, 1),
        ];
        new InjectorSink(capture, x2Apic: true, engine).Deliver(1, fromNode1);

        Assert.Equal([new IcrInjection(0, 0x40FD, 0, 0), new IcrInjection(1, 0x40FC, 1, 1)], capture.Seen); // the IPIs, in order
        engine.SetIoApicPin(0, 3, asserted: true);
        engine.Stop();
        Assert.True(engine.TakePending(0).IsPending(0x46), "the pin programmed from node 1 did not fire");
        Assert.Equal(0, engine.ReadCounters().IoApicRejected);

        // Without the engine the sink cannot apply it, and says so rather than inject it, before injecting anything: the
        // link closes and resends the whole frame, so an IPI injected before the refusal would be injected again.
        var alone = new Capture();
        var refusal = Assert.Throws<InvalidOperationException>(() => new InjectorSink(alone, x2Apic: true).Deliver(1, fromNode1));
        Assert.Contains("IoApicNode", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(alone.Seen);

        // The same for a span longer than a frame, its IOAPIC record last: the first part is not injected either.
        var entryLast = Enumerable.Range(0, FrameHeader.MaxRecordsPerFrame + 5).Select(i => new RemoteDelivery((ulong)i, 0, 2, 0, 0x0000_40FD, 0))
            .Append(fromNode1[1]).ToArray();
        Assert.Throws<InvalidOperationException>(() => new InjectorSink(alone, x2Apic: true).Deliver(1, entryLast));
        Assert.Empty(alone.Seen);
    }

    /// <summary>An injector whose first call with <c>vector</c> in it throws before it injects anything (an ioctl that failed).</summary>
    internal sealed class FailsOnceOn(uint vector) : IcrInjector
    {
        private bool _failed;

        public List<IcrInjection> Seen { get; } = [];

        public override void Inject(ReadOnlySpan<IcrInjection> injections)
        {
            foreach (var injection in injections)
            {
                if ((injection.IcrLow & 0xFF) == vector && !_failed)
                {
                    _failed = true;
                    throw new IOException("KVM_DSM_IPI failed");
                }
            }
            Seen.AddRange(injections);
        }
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07, helper-B): on the IOAPIC node the sink injected the IPIs before an IOAPIC record,
    /// applied the record, then the injector threw on the IPIs after it; the frame counted as not applied, and its resend
    /// injected the leading IPIs and applied the IOAPIC record a second time. The throw now says how far the sink got.
    /// </summary>
    [Fact]
    public void An_injector_that_throws_after_part_of_the_span_went_through_is_reported_with_how_many_records_did()
    {
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical),
            Placement = new VcpuPlacement([0, 0, 1, 1], 0),
            Forwarder = new Nowhere(),
            IoApicNode = 0,
        });
        engine.Start();
        var injector = new FailsOnceOn(0x42);
        var sink = new InjectorSink(injector, x2Apic: true, engine);
        RemoteDelivery[] frame =
        [
            new(1, 0, 2, 0, 0x0000_4041, 0),
            new(2, 0, 2, 0, RemoteDelivery.IoApicEoiFlag | 0x30, 0),
            new(3, 0, 3, 1, 0x0000_4042, 1),
        ];

        var failure = Assert.Throws<PartlyAppliedException>(() => sink.Deliver(1, frame));
        Assert.Equal(2, failure.Applied); // the IPI and the EOI before the call that threw
        Assert.IsType<IOException>(failure.InnerException);
        sink.Deliver(1, frame.AsSpan(failure.Applied)); // what the link is handed again
        engine.Stop();

        Assert.Equal([new IcrInjection(0, 0x4041, 0, 0), new IcrInjection(1, 0x4042, 1, 1)], injector.Seen); // each once, in order
        Assert.Equal(1, engine.ReadCounters().Posted); // the EOI, once

        // A throw before anything went through is the injector's own: the link is handed the whole frame again.
        var first = new FailsOnceOn(0x41);
        Assert.Throws<IOException>(() => new InjectorSink(first, x2Apic: true).Deliver(1, frame.AsSpan(0, 1)));
        Assert.Empty(first.Seen);
    }
}
