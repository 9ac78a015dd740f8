using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>The IOAPIC through the resolver: entries, edge and level pins, remote IRR and EOI, masks, bad input.</summary>
public class IoApicTests
{
    private const int Device = 4; // the first device source of a 4-vCPU resolver
    private const ulong Level = 1ul << 15;
    private const ulong Masked = 1ul << 16;

    private readonly IcrResolver _resolver = new(ApicTopology.Configure(4, TopologyKind.XApicFlat), deviceSources: 1);
    private readonly DestinationSet _set = new(4);

    private static ulong Entry(byte vector, uint destination, bool logical = false, ulong flags = 0)
        => vector | (logical ? 1ul << 11 : 0) | flags | (ulong)destination << 56;

    private (ExitKind Kind, RejectReason Reason, string Vcpus) Do(ushort source, ushort register, ulong value, uint pin)
    {
        ExitOutcome outcome = _resolver.Process(new ExitRecord(source, register, value, pin, 0, 0), _set);
        Assert.Equal(InterruptInput.IoApic, outcome.Input);
        var vcpus = new List<int>(_set.Vcpus.ToArray());
        while (_resolver.NextIoApicPin(_set, out _))
        {
            vcpus.AddRange(_set.Vcpus.ToArray());
        }

        return (outcome.Kind, outcome.Reason, string.Join(',', vcpus));
    }

    private (ExitKind, RejectReason, string) Pin(uint pin, bool asserted) => Do(Device, ApicRegister.IoApicPin, asserted ? 1ul : 0, pin);

    private (ExitKind, RejectReason, string) Write(uint pin, ulong entry) => Do(0, ApicRegister.IoApicEntry, entry, pin);

    private (ExitKind, RejectReason, string) Eoi(int vcpu, byte vector) => Do((ushort)vcpu, ApicRegister.Eoi, vector, 0);

    [Fact]
    public void Every_pin_starts_masked_and_a_masked_assertion_is_refused()
    {
        Assert.Equal((ExitKind.Rejected, RejectReason.MaskedPin, ""), Pin(3, true));
        Assert.Equal((ExitKind.Latched, RejectReason.None, ""), Pin(3, false)); // a de-assertion only changes state
    }

    [Fact]
    public void An_edge_pin_fires_on_each_rising_edge_only()
    {
        Assert.Equal(ExitKind.Latched, Write(2, Entry(0x41, destination: 0b0110, logical: true)).Item1);

        Assert.Equal((ExitKind.Fired, RejectReason.None, "1,2"), Pin(2, true));
        Assert.Equal(ExitKind.Latched, Pin(2, true).Item1); // still high: no edge
        Assert.Equal(ExitKind.Latched, Pin(2, false).Item1);
        Assert.Equal((ExitKind.Fired, RejectReason.None, "1,2"), Pin(2, true));
        Assert.Equal(ExitKind.Latched, Eoi(1, 0x41).Item1); // an edge pin has no remote IRR
    }

    [Fact]
    public void A_level_pin_keeps_remote_irr_until_the_eoi_and_is_delivered_again_while_asserted()
    {
        Write(5, Entry(0x52, destination: 0b1000, logical: true, Level));

        Assert.Equal((ExitKind.Fired, RejectReason.None, "3"), Pin(5, true));
        Assert.Equal(ExitKind.Latched, Pin(5, true).Item1); // remote IRR set: held
        Assert.Equal(ExitKind.Latched, Eoi(3, 0x53).Item1); // another vector
        Assert.Equal((ExitKind.Fired, RejectReason.None, "3"), Eoi(3, 0x52)); // still asserted: again
        Assert.Equal(ExitKind.Latched, Pin(5, false).Item1);
        Assert.Equal(ExitKind.Latched, Eoi(3, 0x52).Item1); // cleared, the line is low: nothing
        Assert.Equal((ExitKind.Fired, RejectReason.None, "3"), Pin(5, true)); // IRR was cleared: fires at once
    }

    [Fact]
    public void Unmasking_an_asserted_level_pin_delivers_it_and_masking_holds_the_eoi_redelivery()
    {
        Write(7, Entry(0x60, destination: 0b0001, logical: true, Level | Masked));
        Assert.Equal(RejectReason.MaskedPin, Pin(7, true).Item2);

        Assert.Equal((ExitKind.Fired, RejectReason.None, "0"), Write(7, Entry(0x60, destination: 0b0001, logical: true, Level)));
        Assert.Equal(ExitKind.Latched, Write(7, Entry(0x60, destination: 0b0001, logical: true, Level | Masked)).Item1);
        Assert.Equal(ExitKind.Latched, Eoi(0, 0x60).Item1); // masked: IRR cleared, no delivery
        Assert.Equal((ExitKind.Fired, RejectReason.None, "0"), Write(7, Entry(0x60, destination: 0b0001, logical: true, Level)));
    }

    [Fact]
    public void An_eoi_redelivers_every_asserted_pin_of_its_vector_each_as_its_own_entry_sends_it()
    {
        Write(1, Entry(0x70, destination: 0b0011, logical: true, Level));
        Write(9, Entry(0x70, destination: 0b0110, logical: true, Level | (ulong)DeliveryMode.Nmi << 8));
        Write(12, Entry(0x70, destination: 0b1000, logical: true, Level | Masked));
        Assert.Equal("0,1", Pin(1, true).Item3);
        Assert.Equal("1,2", Pin(9, true).Item3);

        // KVM's __kvm_ioapic_update_eoi: ioapic_service per pin, each with its own entry; vCPU 1 is named by both.
        ExitOutcome outcome = _resolver.Process(new ExitRecord(2, ApicRegister.Eoi, 0x70, 0, 0, 0), _set);
        Assert.Equal((ExitKind.Fired, DeliveryMode.Fixed, "0,1"), (outcome.Kind, outcome.Command.DeliveryMode, string.Join(',', _set.Vcpus.ToArray())));
        Assert.True(_resolver.NextIoApicPin(_set, out IcrCommand second));
        Assert.Equal((DeliveryMode.Nmi, 0b0110u, "1,2"), (second.DeliveryMode, second.Destination, string.Join(',', _set.Vcpus.ToArray())));
        Assert.False(_resolver.NextIoApicPin(_set, out _)); // pin 12 is masked
        Assert.True(_resolver.IoApic.RemoteIrr(1) && _resolver.IoApic.RemoteIrr(9));

        Assert.Equal(ExitKind.Latched, Pin(1, false).Item1); // the next record drops what was not asked for
        Assert.False(_resolver.NextIoApicPin(_set, out _));
        Assert.Equal((ExitKind.Fired, RejectReason.None, "1,2"), Eoi(2, 0x70)); // pin 1's line is low now: pin 9 alone
    }

    [Fact]
    public void An_eoi_redelivering_pins_of_one_vector_gives_each_pins_destinations_that_pins_delivery_mode()
    {
        // KVM's __kvm_ioapic_update_eoi services each pin with its own entry (ioapic_service): pin 1 sends vector 0x70
        // Fixed to vCPU 0, pin 9 an NMI (same vector field) to vCPU 2. vCPU 0 must not get pin 9's NMI.
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.XApicPhysical), DeviceSources = 1, ThreadingMode = ThreadingMode.Inline,
        });
        engine.Start();
        engine.WriteIoApicEntry(0, 1, Entry(0x70, destination: 0, flags: Level));
        engine.WriteIoApicEntry(0, 9, Entry(0x70, destination: 2, flags: Level | (ulong)DeliveryMode.Nmi << 8));
        engine.SetIoApicPin(0, 1, asserted: true);
        engine.SetIoApicPin(0, 9, asserted: true);
        Assert.Equal((true, false, false, true), Modes());

        engine.PostEoi(0, 0x70); // both pins' remote IRR cleared, both lines still high: each delivered again
        Assert.Equal((true, false, false, true), Modes());
        engine.Stop();

        EngineCounters counters = engine.ReadCounters();
        Assert.Equal((3L, 3L, 4L), (counters.IoApicResolved, counters.IpisResolved, counters.DestinationsResolved)); // 3 records fired, 4 destinations
        Assert.True(counters.ConservationHolds, counters.ToString());

        (bool FixedAt0, bool NmiAt0, bool FixedAt2, bool NmiAt2) Modes()
        {
            PendingInterrupts at0 = engine.TakePending(0), at2 = engine.TakePending(2);
            return (at0.IsPending(0x70), at0.Nmi, at2.IsPending(0x70), at2.Nmi);
        }
    }

    [Fact]
    public void Bad_pins_entries_and_sources_are_refused_with_a_reason()
    {
        Assert.Equal(RejectReason.UnknownPin, Pin(24, true).Item2);
        Assert.Equal(RejectReason.UnknownPin, Write(24, Entry(0x41, 1)).Item2);
        Write(4, Entry(0x05, destination: 1, flags: Level)); // fixed, vector 5
        Assert.Equal((ExitKind.Rejected, RejectReason.IllegalVector, ""), Pin(4, true));
        Assert.Equal(ExitKind.Latched, Eoi(0, 0x05).Item1); // no remote IRR was set by the refused delivery
        Write(6, Entry(0x41, destination: 1, flags: 3ul << 8)); // delivery mode 011
        Assert.Equal(RejectReason.ReservedDeliveryMode, Pin(6, true).Item2);

        var set = new DestinationSet(4);
        Assert.Equal(RejectReason.UnknownRegister, _resolver.Process(new ExitRecord(0, ApicRegister.IoApicPin, 1, 2, 0, 0), set).Reason); // a vCPU drives no line
    }

    [Fact]
    public void An_engine_round_trip_of_a_level_pin_is_counted_per_kind()
    {
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.XApicPhysical), DeviceSources = 1, ThreadingMode = ThreadingMode.Inline,
        });
        engine.Start();
        engine.WriteIoApicEntry(0, 10, Entry(0x33, destination: 2, flags: Level));
        engine.SetIoApicPin(0, 10, asserted: true);
        Assert.True(engine.TakePending(2).IsPending(0x33));
        engine.SetIoApicPin(0, 10, asserted: true); // held: remote IRR
        Assert.False(engine.HasPending(2));
        engine.PostEoi(2, 0x33); // still asserted: delivered again
        Assert.True(engine.TakePending(2).IsPending(0x33));
        engine.SetIoApicPin(0, 10, asserted: false);
        engine.PostEoi(2, 0x33);
        engine.SetIoApicPin(0, 11, asserted: true); // masked
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.SetIoApicPin(0, 24, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.SetIoApicPin(1, 0, true));
        engine.Stop();

        EngineCounters counters = engine.ReadCounters();
        Assert.Equal((2L, 1L, 4L), (counters.IoApicResolved, counters.IoApicRejected, counters.IoApicStateOnly)); // 7 IOAPIC records
        Assert.Equal(1, counters.RejectedBy(RejectReason.MaskedPin));
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Fact]
    public void An_entry_write_bound_for_another_nodes_ioapic_is_refused_past_the_last_pin_as_at_home()
    {
        var forwarding = new IcrResolver(ApicTopology.Configure(4, TopologyKind.XApicFlat), deviceSources: 1, eoiTarget: 2);
        var set = new DestinationSet(4);

        // Pin 1000 packed into the travelling record would have named pin 8 (1000 & 31) on the IOAPIC node.
        ExitOutcome past = forwarding.Process(new ExitRecord(0, ApicRegister.IoApicEntry, Entry(0x45, 1), 1000, 0, 0), set);
        Assert.Equal((ExitKind.Rejected, RejectReason.UnknownPin, InterruptInput.IoApic), (past.Kind, past.Reason, past.Input));
        Assert.Empty(set.Vcpus.ToArray());

        ExitOutcome last = forwarding.Process(new ExitRecord(0, ApicRegister.IoApicEntry, Entry(0x45, 1), 23, 0, 0), set);
        Assert.Equal(ExitKind.Fired, last.Kind); // travels to the IOAPIC node's first vCPU
        Assert.Equal([2], set.Vcpus.ToArray());
    }
}
