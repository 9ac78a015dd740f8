using IpiEngine.Perf.Probe;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// The ConcurrentQueue reference rig (<c>ipi run --baseline-queue</c>) resolves every record exactly once, in its
/// producer's order, to the vCPU it names, with its vector pending there; a bounded queue makes its producer wait, not grow.
/// </summary>
public class QueueRigTests
{
    [Theory]
    [InlineData(8, 64)]
    [InlineData(3, 16)]
    [InlineData(1, 8)]
    public void Every_record_reaches_its_destination_exactly_once(int vcpus, int capacity)
    {
        const long PerVcpu = 20_000; // many times each queue's bound: producers wait on the consumer again and again
        using var rig = new QueueRig(vcpus, capacity);

        for (var round = 0; round < 2; round++)
        {
            rig.RunOnce(PerVcpu);

            var expectedTo = new long[vcpus];
            var expectedVectors = new HashSet<byte>[vcpus];
            for (var v = 0; v < vcpus; v++)
            {
                expectedVectors[v] = [];
            }

            for (var producer = 0; producer < vcpus; producer++)
            {
                for (var s = round * PerVcpu; s < (round + 1) * PerVcpu; s++)
                {
                    var destination = rig.DestinationOf(producer, s);
                    expectedTo[destination]++;
                    expectedVectors[destination].Add(QueueRig.VectorOf(s));
                }
            }

            Assert.Equal(vcpus * PerVcpu * (round + 1), rig.Consumed);
            Assert.Equal(0, rig.SequenceErrors);
            for (var v = 0; v < vcpus; v++)
            {
                Assert.Equal(expectedTo[v] * (round + 1), rig.DeliveredTo(v)); // counts accumulate over the rounds
                var pending = rig.TakePending(v); // taken each round: exactly this round's vectors
                Assert.Equal(expectedVectors[v].Count, pending.VectorCount);
                Assert.All(expectedVectors[v], vector => Assert.True(pending.IsPending(vector), $"vector {vector} missing at vCPU {v}"));
            }
        }
    }

    [Fact]
    public void Producers_that_take_after_each_post_take_what_was_delivered_to_them_and_lose_nothing()
    {
        const long PerVcpu = 20_000;
        using var rig = new QueueRig(vcpus: 4, capacity: 64, takeAfterPost: true);

        // Two runs: the first leaves interrupts pending for every vCPU (all consumed before RunOnce returns), so each
        // producer's first look of the second run finds something, however the threads were scheduled.
        rig.RunOnce(PerVcpu);
        rig.RunOnce(PerVcpu);

        Assert.Equal(2 * 4 * PerVcpu, rig.Consumed);
        Assert.Equal(0, rig.SequenceErrors);
        for (var v = 0; v < 4; v++)
        {
            Assert.Equal(2 * PerVcpu, rig.DeliveredTo(v)); // each vCPU is every other's destination in turn: 3 x 20,000 / 3 per run
            Assert.InRange(rig.TakesBy(v), 1, 2 * PerVcpu); // at most one take per post
        }
    }

    [Fact]
    public void Producers_that_do_not_take_leave_every_vector_pending()
    {
        using var rig = new QueueRig(vcpus: 2, capacity: 16);

        rig.RunOnce(1_000);

        Assert.Equal(0, rig.TakesBy(0) + rig.TakesBy(1));
        Assert.False(rig.TakePending(0).IsEmpty);
    }

    [Fact]
    public void Destinations_are_every_other_vcpu_in_turn()
    {
        using var rig = new QueueRig(vcpus: 4, capacity: 8);

        Assert.Equal([1, 2, 3, 1], Enumerable.Range(0, 4).Select(s => rig.DestinationOf(0, s)));
        Assert.Equal([0, 1, 2, 0], Enumerable.Range(0, 4).Select(s => rig.DestinationOf(3, s)));
    }

    [Fact]
    public void A_parking_timed_rig_drains_each_run_and_parks_between_them()
    {
        using var rig = new QueueRig(vcpus: 4, capacity: 64, parkWhenIdle: true);

        for (var run = 0; run < 2; run++)
        {
            var result = rig.RunFor(TimeSpan.FromMilliseconds(100));

            Assert.True(result.Records > 0, "the window moved no record");
            Assert.InRange(result.Seconds, 0.05, 30);
            Assert.True(SpinWait.SpinUntil(() => rig.ConsumerParked, TimeSpan.FromSeconds(10)), "the consumer did not park between runs");
            var delivered = Enumerable.Range(0, 4).Sum(rig.DeliveredTo);
            Assert.Equal(rig.Consumed, delivered); // drained: every posted record was resolved to one destination
            Thread.Sleep(5);
            Assert.Equal(delivered, rig.Consumed); // parked: nothing moves
        }

        Assert.Equal(0, rig.SequenceErrors);
    }
}
