using IpiEngine.Perf.Probe;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>The probe reference rig moves every record exactly once, in order, to the destination it names.</summary>
public class ProbeRigTests
{
    [Theory]
    [InlineData(8, 1, 64)]
    [InlineData(8, 64, 256)]
    [InlineData(3, 7, 16)]
    [InlineData(1, 5, 8)]
    public void Every_record_reaches_its_destination_exactly_once(int vcpus, int batch, int ringCapacity)
    {
        const long PerVcpu = 20_000; // many times each ring's capacity: the rings wrap and fill
        using var probe = new ProbeRig(vcpus, batch, ringCapacity);

        for (var round = 0; round < 2; round++)
        {
            probe.RunOnce(PerVcpu);

            var expectedTo = new long[vcpus];
            var expectedBits = new ulong[vcpus, ProbeRig.PendingWords];
            for (var producer = 0; producer < vcpus; producer++)
            {
                for (var s = round * PerVcpu; s < (round + 1) * PerVcpu; s++)
                {
                    var destination = probe.DestinationOf(producer, s);
                    var vector = ProbeRig.VectorOf(s);
                    expectedTo[destination]++;
                    expectedBits[destination, vector >> 6] |= 1UL << vector;
                }
            }

            Assert.Equal(vcpus * PerVcpu * (round + 1), probe.Consumed);
            Assert.Equal(0, probe.SequenceErrors);
            for (var v = 0; v < vcpus; v++)
            {
                Assert.Equal(expectedTo[v] * (round + 1), probe.DeliveredTo(v)); // counts accumulate over the rounds
                for (var w = 0; w < ProbeRig.PendingWords; w++)
                {
                    Assert.Equal(expectedBits[v, w], probe.TakePending(v, w)); // taken each round: exactly this round's bits
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void Producers_that_take_after_each_publication_take_what_was_delivered_to_them_and_lose_nothing(int batch)
    {
        const long PerVcpu = 20_000;
        using var probe = new ProbeRig(vcpus: 4, batch, ringCapacity: 256, takeAfterPost: true);

        // Two runs: the first leaves bits pending for every vCPU (all consumed before RunOnce returns), so each
        // producer's first take of the second run finds something, however the threads were scheduled.
        probe.RunOnce(PerVcpu);
        probe.RunOnce(PerVcpu);

        Assert.Equal(2 * 4 * PerVcpu, probe.Consumed);
        Assert.Equal(0, probe.SequenceErrors);
        for (var v = 0; v < 4; v++)
        {
            Assert.Equal(2 * PerVcpu, probe.DeliveredTo(v)); // each vCPU is every other's destination in turn
            Assert.InRange(probe.TakesBy(v), 1, 2 * PerVcpu / batch); // at most one take per publication
        }
    }

    [Fact]
    public void Bits_already_pending_are_not_ORed_again_and_a_taken_vector_is_set_again()
    {
        // The skipped OR (a read finds every bit pending) must not lose a vector that was taken meanwhile: after a take
        // the next record for that vector sets it again.
        using var probe = new ProbeRig(vcpus: 2, batch: 1, ringCapacity: 16);
        for (var round = 0; round < 3; round++)
        {
            probe.RunOnce(128); // vCPU 0 sends vectors 0x20..0x9F to vCPU 1, and vCPU 1 to vCPU 0: words 0-2 of each
            for (var v = 0; v < 2; v++)
            {
                Assert.Equal(0xFFFF_FFFF_0000_0000UL, probe.TakePending(v, 0));
                Assert.Equal(ulong.MaxValue, probe.TakePending(v, 1));
                Assert.Equal(0xFFFF_FFFFUL, probe.TakePending(v, 2));
                Assert.Equal(0UL, probe.TakePending(v, 3));
            }
        }
    }

    [Fact]
    public void A_timed_run_drains_and_reports_its_window()
    {
        using var probe = new ProbeRig(vcpus: 4, batch: 8, ringCapacity: 64);

        var result = probe.RunFor(TimeSpan.FromMilliseconds(200));

        Assert.True(result.Records > 0, "the window moved no record");
        Assert.InRange(result.Seconds, 0.15, 30);
        Assert.Equal(0, result.SequenceErrors);
        var total = 0L;
        for (var v = 0; v < 4; v++)
        {
            total += probe.DeliveredTo(v);
        }

        Assert.Equal(probe.Consumed, total); // drained: every posted record was resolved to one destination
        Assert.True(probe.Consumed >= result.Records);
    }

    [Fact]
    public void A_parking_rig_parks_its_consumer_between_runs_and_loses_nothing()
    {
        using var probe = new ProbeRig(vcpus: 4, batch: 8, ringCapacity: 64, parkWhenIdle: true);

        Assert.True(probe.RunFor(TimeSpan.FromMilliseconds(50)).Records > 0, "the first timed run moved no record");
        AssertParkedAndStill(probe);
        var before = probe.Consumed;
        probe.RunOnce(10_000); // a counted run wakes it: all of it consumed before it returns
        Assert.Equal(before + (4 * 10_000), probe.Consumed);
        AssertParkedAndStill(probe);
        Assert.True(probe.RunFor(TimeSpan.FromMilliseconds(50)).Records > 0, "the timed run after two parks moved no record");
        AssertParkedAndStill(probe);

        Assert.Equal(0, probe.SequenceErrors);
        var total = 0L;
        for (var v = 0; v < 4; v++)
        {
            total += probe.DeliveredTo(v);
        }

        Assert.Equal(probe.Consumed, total);
    }

    [Fact]
    public void A_rig_that_does_not_park_never_parks()
    {
        using var probe = new ProbeRig(vcpus: 2, batch: 4, ringCapacity: 16);

        probe.RunFor(TimeSpan.FromMilliseconds(20));
        Thread.Sleep(20);

        Assert.False(probe.ConsumerParked);
    }

    private static void AssertParkedAndStill(ProbeRig probe)
    {
        Assert.True(SpinWait.SpinUntil(() => probe.ConsumerParked, TimeSpan.FromSeconds(10)), "the consumer did not park between runs");
        var parkedAt = probe.Consumed;
        Thread.Sleep(5);
        Assert.Equal(parkedAt, probe.Consumed);
    }
}
