using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// Two started engines on loopback, each the forwarder of its node's transport (node 1 listens, node 0 dials it);
/// disposing stops the transports, then the engines.
/// </summary>
internal sealed class TwoEngineNodes : IAsyncDisposable
{
    public NodeTransport[] Transports { get; } = new NodeTransport[2];

    public Engine[] Engines { get; } = new Engine[2];

    /// <summary>
    /// Starts both nodes; <paramref name="options"/> builds a node's engine options from its id, placement and transport,
    /// and <paramref name="tune"/>, if given, changes both nodes' transport options.
    /// </summary>
    public TwoEngineNodes(int[] placement, Func<int, VcpuPlacement, NodeTransport, EngineOptions> options, Func<TransportOptions, TransportOptions>? tune = null)
    {
        for (int node = 1; node >= 0; node--)
        {
            var transport = new TransportOptions
            {
                NodeId = node,
                NodeOfVcpu = placement,
                Key = LoopbackCluster.Key,
                Peers = [node == 0 ? new PeerAddress(1, Transports[1].LocalEndPoint) : new PeerAddress(0)],
            };
            Transports[node] = new NodeTransport(tune is null ? transport : tune(transport));
            Engines[node] = new Engine(options(node, new VcpuPlacement(placement, node), Transports[node]));
            Transports[node].Start(new EngineSink(Engines[node]));
            Engines[node].Start();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var transport in Transports)
            await transport.DisposeAsync();
        foreach (var engine in Engines)
            engine.Dispose();
    }
}
