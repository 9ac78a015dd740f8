using IpiEngine.Apic;
using IpiEngine.Native;
using IpiEngine.Tests.Native;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// An x2APIC ICR write with a reserved bit faults on hardware and in KVM, so the engine refuses it with a reason in every
/// threading mode. Before, the fast lane (bits 17:16 and 13 were not in its mask) and the full path (which only dropped
/// bits 31:20) both delivered it.
/// </summary>
public unsafe class X2ApicReservedBitsTests
{
    [Theory]
    [InlineData(ThreadingMode.Fused, 1u << 13)]
    [InlineData(ThreadingMode.Fused, 1u << 16)]
    [InlineData(ThreadingMode.PerStage, 1u << 17)]
    [InlineData(ThreadingMode.Inline, 1u << 13)]
    [InlineData(ThreadingMode.Inline, 1u << 25)]
    public void Is_refused_and_counted_in_every_mode_while_its_neighbours_are_delivered(ThreadingMode mode, uint reserved)
    {
        using var engine = new Engine(new EngineOptions { Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical), ThreadingMode = mode });
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, (2ul << 32) | 0x40F0, 2, tag: 1);
        engine.Post(0, ApicRegister.X2Icr, (2ul << 32) | 0x40F1 | reserved, 2, tag: 2);
        engine.Post(0, ApicRegister.X2Icr, (2ul << 32) | 0x40F2, 2, tag: 3);
        engine.Post(1, ApicRegister.X2SelfIpi, 0x1F3, 0, tag: 4);
        engine.Stop();

        var pending = engine.TakePending(2);
        Assert.True(pending.IsPending(0xF0) && pending.IsPending(0xF2));
        Assert.False(pending.IsPending(0xF1), "the write with a reserved bit was delivered");
        Assert.False(engine.HasPending(1));
        var counters = engine.ReadCounters();
        Assert.Equal(2, counters.RejectedBy(RejectReason.ReservedBitsSet));
        Assert.Equal(2, counters.Rejected);
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Fact]
    public void The_c_abi_counts_it_in_its_own_field_past_the_full_reason_array()
    {
        NativeConfig config = Abi.Config(4);
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            Assert.Equal(Status.Ok, Abi.Start(engine));
            NativeExit record = new() { SourceVcpu = 0, Register = ApicRegister.X2Icr, Value = (2ul << 32) | 0x40F1 | (1u << 13), DestinationId = 2 };
            Assert.Equal(Status.Ok, Abi.Post(engine, &record));
            Assert.Equal(Status.Ok, Abi.Stop(engine));
            NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
            Assert.Equal(Status.Ok, Abi.Counters(engine, &counters));
            Assert.Equal(1ul, counters.RejectedReservedBits);
            Assert.Equal(1ul, counters.Rejected);

            // A caller built against ABI 1.9 (280 bytes) gets the rest and not the new field.
            NativeCounters older = new() { StructSize = 280, RejectedReservedBits = 0xCCCC };
            Assert.Equal(Status.Ok, Abi.Counters(engine, &older));
            Assert.Equal(0xCCCCul, older.RejectedReservedBits);
            Assert.Equal(1ul, older.Rejected);
        }
        finally
        {
            Abi.Destroy(engine);
        }
    }
}
