using System.Diagnostics.Metrics;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class TransportMetricsTests
{
    [Fact]
    public async Task Link_counters_are_published_per_node_and_peer()
    {
        int[] placement = [0, 0, 1, 1];
        await using var cluster = LoopbackCluster.Start(placement);
        await Task.Run(() => Workload.Run(cluster.Nodes[0], placement, perSource: 500), TestContext.Current.CancellationToken);
        Assert.True(await cluster.Nodes[0].DrainAsync(TimeSpan.FromSeconds(20)).WaitAsync(TestContext.Current.CancellationToken));

        var seen = new List<((string Name, int Node, int Peer) Key, long Value)>(); // every node published, none overwritten
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TransportMetrics.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            int node = -1, peer = -1;
            foreach (var tag in tags)
            {
                if (tag.Key == "node")
                    node = (int)tag.Value!;
                else if (tag.Key == "peer")
                    peer = (int)tag.Value!;
            }
            lock (seen)
                seen.Add(((instrument.Name, node, peer), value));
        });
        listener.Start();
        listener.RecordObservableInstruments();

        // Other tests' nodes may be published too (same ids); this cluster carried exactly 1 000 records from 0 to 1.
        Assert.Contains(seen, kv => kv.Key == ("ipi.link.acknowledged", 0, 1) && kv.Value == 1_000);
        Assert.Contains(seen, kv => kv.Key == ("ipi.link.applied", 1, 0) && kv.Value == 1_000);
        Assert.Contains(seen, kv => kv.Key.Name == "ipi.link.connections");
    }

    [Fact]
    public async Task Flush_sends_of_a_send_batch_are_published()
    {
        int[] placement = [0, 0, 1, 1];
        await using var cluster = LoopbackCluster.Start(placement, tune: o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30), SilenceTimeout = TimeSpan.FromSeconds(60) });
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => cluster.AllConnected, TimeSpan.FromSeconds(30)));
        var record = new[] { new IpiEngine.Delivery.RemoteDelivery(1, 0, 0, 2, 0x40, 2) };
        await Task.Run(() =>
        {
            Thread.Sleep(50); // the send loops wrote their first acknowledgements and parked
            using var batch = cluster.Nodes[0].BeginSendBatch(); // a batch lives on this thread
            for (int flush = 0; flush < 3; flush++)
            {
                Assert.Equal(0, cluster.Nodes[0].Forward(1, record));
                batch.Flush(); // each sent by this thread, the loop still parked
            }
        }, TestContext.Current.CancellationToken);

        var published = new List<long>(); // other tests' nodes 0 may be published too
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TransportMetrics.MeterName && instrument.Name == "ipi.link.flush_sends")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            bool fromNode0 = false, toPeer1 = false;
            foreach (var tag in tags)
            {
                fromNode0 |= tag.Key == "node" && tag.Value is 0;
                toPeer1 |= tag.Key == "peer" && tag.Value is 1;
            }
            if (fromNode0 && toPeer1)
            {
                lock (published)
                    published.Add(value);
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(3, cluster.Nodes[0].Links.Single().Counters.FlushSends);
        Assert.Contains(3L, published);
    }
}
