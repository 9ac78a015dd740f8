using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Delivered and coalesced counts of one batch that mixes repeated vectors, repeated flags and a multicast, and of a
/// later batch that meets bits still pending in the descriptors: the batcher counts a vector gathered twice in a batch
/// at its flush, from what it gathered, not per delivery, so every path into it is checked against hand counts.
/// </summary>
public class CoalescingCountTests
{
    private const uint X2Icr = ApicRegister.X2Icr;

    private static ulong Icr(uint destination, byte vector, uint mode = 0, bool logical = false)
        => ((ulong)destination << 32) | vector | (mode << 8) | (logical ? 1u << 11 : 0) | (1u << 14);

    public static TheoryData<ThreadingMode, int> Engines => new()
    {
        { ThreadingMode.Fused, 0 },
        { ThreadingMode.Fused, 64 },    // a delivery log: the batcher's routed path
        { ThreadingMode.PerStage, 0 },
        { ThreadingMode.PerStage, 64 },
    };

    [Theory]
    [MemberData(nameof(Engines))]
    public void Repeats_within_a_batch_and_against_the_descriptor_are_coalesced_and_the_rest_delivered(ThreadingMode mode, int logCapacity)
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 3, ThreadingMode = mode, DeliveryLogCapacity = logCapacity });

        // One batch (posted before the start, drained by one pass): 10 destinations, 5 distinct bits.
        engine.Post(0, X2Icr, Icr(1, 0x30), 1);
        engine.Post(0, X2Icr, Icr(1, 0x30), 1);
        engine.Post(0, X2Icr, Icr(1, 0x31), 1);
        engine.Post(0, X2Icr, Icr(1, 0x00, mode: 4), 1); // NMI
        engine.Post(0, X2Icr, Icr(6, 0x33, logical: true), 6); // x2APIC cluster 0, members 1 and 2: the full resolution
        engine.Post(0, X2Icr, Icr(1, 0x30), 1);
        engine.Post(0, X2Icr, Icr(1, 0x00, mode: 4), 1); // NMI again
        engine.Post(0, X2Icr, Icr(6, 0x33, logical: true), 6);
        engine.Start();
        WaitForDestinations(engine, 10);
        EngineCounters first = engine.ReadCounters();
        Assert.Equal(5, first.Delivered);
        Assert.Equal(5, first.Coalesced);

        // Nothing was taken: 0x30 is still pending on vCPU 1, so it coalesces against the descriptor.
        engine.Post(0, X2Icr, Icr(1, 0x30), 1);
        engine.Post(0, X2Icr, Icr(1, 0x32), 1);
        engine.Post(0, X2Icr, Icr(1, 0x32), 1);
        engine.Post(0, X2Icr, Icr(2, 0x00, mode: 4), 2); // NMI to vCPU 2: new
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(14, counters.DestinationsResolved);
        Assert.Equal(7, counters.Delivered);
        Assert.Equal(7, counters.Coalesced);
        Assert.True(counters.ConservationHolds, counters.ToString());
        PendingInterrupts one = engine.TakePending(1);
        Assert.True(one.Nmi);
        Assert.Equal((1UL << 0x30) | (1UL << 0x31) | (1UL << 0x32) | (1UL << 0x33), one.VectorWord(0));
        PendingInterrupts two = engine.TakePending(2);
        Assert.True(two.Nmi);
        Assert.Equal(1UL << 0x33, two.VectorWord(0));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_pass_with_more_deliveries_than_one_flush_holds_counts_each_once(ThreadingMode mode, int logCapacity)
    {
        // 100 x2APIC broadcasts from vCPU 0 to 64 vCPUs: 6,400 deliveries in one pass, past the batcher's 4,096.
        const int Vcpus = 64;
        using var engine = new Engine(new EngineOptions { VcpuCount = Vcpus, ThreadingMode = mode, DeliveryLogCapacity = logCapacity });
        for (int i = 0; i < 100; i++)
        {
            engine.Post(0, X2Icr, Icr(0xFFFF_FFFF, (byte)(0x40 + (i % 10))), 0xFFFF_FFFF);
        }

        engine.Start();
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(100 * Vcpus, counters.DestinationsResolved);
        Assert.Equal(Vcpus * 10, counters.Delivered);
        Assert.Equal((100 * Vcpus) - (Vcpus * 10), counters.Coalesced);
        Assert.True(counters.ConservationHolds, counters.ToString());
        for (int v = 0; v < Vcpus; v++)
        {
            Assert.Equal(0x3FFUL, engine.TakePending(v).VectorWord(1)); // vectors 0x40-0x49: bits 0-9 of word 1
        }
    }

    private static void WaitForDestinations(Engine engine, long destinations)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.ReadCounters() is var counters && counters.Delivered + counters.Coalesced < destinations)
        {
            Assert.True(DateTime.UtcNow < deadline, $"not delivered within 10 s: {counters}");
            Thread.Sleep(1);
        }
    }
}
