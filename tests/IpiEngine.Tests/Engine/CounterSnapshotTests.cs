using System.Diagnostics;
using IpiEngine.Apic;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>A counters snapshot taken while vCPUs post is never ahead of itself: a host may poll it to wait until settled.</summary>
public class CounterSnapshotTests
{
    [Theory]
    [InlineData(ThreadingMode.Fused, false)]
    [InlineData(ThreadingMode.PerStage, false)]
    [InlineData(ThreadingMode.Fused, true)]
    public void A_snapshot_never_shows_more_resolved_than_posted(ThreadingMode mode, bool peerWrites)
    {
        const int Vcpus = 4;
        using var engine = new Engine(new EngineOptions { VcpuCount = Vcpus, RingCapacity = 1024, ThreadingMode = mode });
        engine.Start();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var posted = new long[2];
        var posters = Enumerable.Range(0, 2).Select(source => new Thread(() =>
        {
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                engine.Post(source, ApicRegister.X2Icr, Unicast((uint)(2 + source), (byte)(0x20 + (n % 200))), (uint)(2 + source));
                n++;
                if ((n & 63) == 0)
                {
                    engine.TakePending(2 + source); // keep the destinations' vectors from staying pending
                }
            }

            posted[source] = n;
        }) { IsBackground = true }).ToArray();
        if (peerWrites)
        {
            // Another node's topology writes, applied here as the replicator's applier does: counted as writes and as
            // peer writes in two steps, which a snapshot may fall between.
            posters = [.. posters, new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    engine.ApplyReplicatedTopologyWrite(3, ApicRegister.X2Svr, 0x1FF, fromPeer: true);
                }
            }) { IsBackground = true }];
        }

        foreach (Thread poster in posters)
        {
            poster.Start();
        }

        long snapshots = 0, negative = 0, lowest = 0;
        var clock = Stopwatch.StartNew();
        while (posters.Any(p => p.IsAlive) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            EngineCounters c = engine.ReadCounters();
            snapshots++;
            if (c.InFlight < 0)
            {
                negative++;
                lowest = Math.Min(lowest, c.InFlight);
            }
        }

        Assert.All(posters, p => Assert.True(p.Join(TimeSpan.FromSeconds(10))));
        engine.Stop();
        Assert.True(snapshots > 100, $"only {snapshots} snapshots were read");
        Assert.True(negative == 0, $"{negative} of {snapshots} snapshots showed more resolved and rejected than posted (in flight down to {lowest}).");
        Assert.Equal(posted.Sum(), engine.ReadCounters().Posted);
        Assert.True(engine.ReadCounters().ConservationHolds);
        Assert.Equal(peerWrites, engine.ReadCounters().PeerTopologyWrites > 0);
    }
}
