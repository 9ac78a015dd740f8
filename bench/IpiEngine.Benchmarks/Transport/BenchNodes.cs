using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// A VM's nodes in this benchmark process on loopback: per node an <see cref="Engine"/> whose forwarder and topology
/// replicator is its <see cref="NodeTransport"/>, started highest id first (so each dialer knows its acceptors' ports).
/// Disposing stops them, transports first (nothing reaches an engine after it is freed).
/// </summary>
internal sealed class BenchNodes : IDisposable
{
    private BenchNodes(int nodes)
    {
        Transports = new NodeTransport[nodes];
        Engines = new Engine[nodes];
    }

    public NodeTransport[] Transports { get; }
    public Engine[] Engines { get; }

    /// <summary>
    /// Starts the nodes of <paramref name="placement"/> (vCPU v on node placement[v]), each engine from its own
    /// <paramref name="topology"/>, and waits (up to 10 s) for every link; <paramref name="sinkOf"/> may wrap a node's
    /// arrivals sink; <paramref name="windowRecords"/> sizes each peer's queue and <paramref name="fullQueuePolicy"/> says what a full one does (defaults: the transport's).
    /// </summary>
    public static BenchNodes Start(int[] placement, Func<ApicTopology> topology, Func<int, RemoteDeliverySink, RemoteDeliverySink>? sinkOf = null,
        int windowRecords = TransportOptions.DefaultWindowRecords, FullQueuePolicy fullQueuePolicy = FullQueuePolicy.Wait)
    {
        int count = placement.Max() + 1;
        var nodes = new BenchNodes(count);
        var key = new byte[32];
        for (int node = count - 1; node >= 0; node--)
        {
            int self = node;
            var transport = nodes.Transports[node] = new NodeTransport(new TransportOptions
            {
                NodeId = node,
                NodeOfVcpu = placement,
                Key = key,
                Peers = [.. Enumerable.Range(0, count).Where(p => p != self).Select(p => new PeerAddress(p, p > self ? nodes.Transports[p].LocalEndPoint : null))],
                WindowRecords = windowRecords,
                FullQueuePolicy = fullQueuePolicy,
            });
            var engine = nodes.Engines[node] = new Engine(new EngineOptions
            {
                Topology = topology(),
                Placement = new VcpuPlacement(placement, node),
                Forwarder = transport,
                Replicator = transport.Replication,
                Name = $"bench-node{node}",
            });
            var sink = new EngineSink(engine);
            transport.Start(sinkOf?.Invoke(node, sink) ?? sink);
            engine.Start();
        }

        LinkWait.Until(() => nodes.Transports.All(t => t.Links.All(l => l.IsConnected)), "the nodes' links were");
        return nodes;
    }

    public void Dispose()
    {
        foreach (var transport in Transports)
            transport.DisposeAsync().AsTask().GetAwaiter().GetResult();
        foreach (var engine in Engines)
            engine.Dispose();
    }
}
