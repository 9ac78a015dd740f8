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
}
