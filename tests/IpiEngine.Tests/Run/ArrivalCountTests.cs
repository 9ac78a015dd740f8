using IpiEngine.Cli.Nodes;
using IpiEngine.Cli.TraceNodes;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// The nodes' arrival counts say a frame arrived only once the next sink (the engine) took it: a node that stops its
/// engine as soon as the count is complete must not stop it under a frame still being handed on (the separate-process
/// storm case failed that way under load: received &gt; remote delivered + coalesced).
/// </summary>
public class ArrivalCountTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A sink that holds each frame until released, saying when one is inside.</summary>
    private sealed class HeldSink : RemoteDeliverySink
    {
        public ManualResetEventSlim Inside { get; } = new();
        public ManualResetEventSlim Release { get; } = new();

        public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        {
            Inside.Set();
            Assert.True(Release.Wait(Bound));
        }
    }

    private static readonly int[] Placement = [0, 1];
    private static readonly RemoteDelivery[] Frame = [new(1, 0, sourceVcpu: 0, destinationVcpu: 1, icrLow: 0xFD, icrDestination: 1)];

    private static void AssertCountedOnlyAfterTheNextSinkTookIt(HeldSink next, RemoteDeliverySink counter, Func<long> count)
    {
        var delivering = Task.Run(() => counter.Deliver(0, Frame), TestContext.Current.CancellationToken);
        Assert.True(next.Inside.Wait(Bound));
        Assert.Equal(0, count()); // the engine has not taken it yet
        next.Release.Set();
        Assert.True(delivering.Wait(Bound));
        Assert.Equal(1, count());
    }

    [Fact]
    public void Node_arrivals_count_a_frame_once_the_engine_took_it()
    {
        var next = new HeldSink();
        var arrivals = new NodeArrivals(Placement, self: 1, next);
        AssertCountedOnlyAfterTheNextSinkTookIt(next, arrivals, () => arrivals.Total);
        Assert.Equal(1, arrivals.Pair(0, 1));
    }

    [Fact]
    public void Trace_arrivals_record_a_frame_once_the_engine_took_it()
    {
        var next = new HeldSink();
        var arrivals = new TraceArrivals(next);
        AssertCountedOnlyAfterTheNextSinkTookIt(next, arrivals, () => arrivals.Count);
    }
}
