using System.Collections.Concurrent;
using System.Net;
using IpiEngine.Transport;

namespace IpiEngine.Tests.Transport;

/// <summary>N in-process nodes on loopback, each with a recording sink; optional proxies in front of the acceptors.</summary>
public sealed class LoopbackCluster : IAsyncDisposable
{
    public static readonly byte[] Key = Convert.FromHexString("00112233445566778899AABBCCDDEEFF0123456789ABCDEF0123456789ABCDEF");

    private readonly IPEndPoint?[] _listen;
    private readonly Func<int, IPEndPoint, IPEndPoint> _route;

    private LoopbackCluster(int[] nodeOfVcpu, int nodes, Func<int, IPEndPoint, IPEndPoint>? route, Func<TransportOptions, TransportOptions>? tune)
    {
        NodeOfVcpu = nodeOfVcpu;
        Nodes = new NodeTransport[nodes];
        Sinks = new RecordingSink[nodes];
        _listen = new IPEndPoint?[nodes];
        _route = route ?? ((_, endPoint) => endPoint);
        Tune = tune ?? (o => o);
    }

    public int[] NodeOfVcpu { get; }
    public NodeTransport[] Nodes { get; }
    public RecordingSink[] Sinks { get; }
    public ConcurrentQueue<string> Log { get; } = new();
    private Func<TransportOptions, TransportOptions> Tune { get; }

    /// <summary>
    /// Starts the nodes from the highest id down, so each dialer knows its acceptors' ports. Node
    /// <paramref name="absent"/> (if any) is not started: a test plays it (its slot in <see cref="Nodes"/> stays null).
    /// </summary>
    public static LoopbackCluster Start(int[] nodeOfVcpu, Func<int, IPEndPoint, IPEndPoint>? route = null, Func<TransportOptions, TransportOptions>? tune = null, int absent = -1)
    {
        int nodes = nodeOfVcpu.Max() + 1;
        var cluster = new LoopbackCluster(nodeOfVcpu, nodes, route, tune);
        for (int n = nodes - 1; n >= 0; n--)
        {
            if (n != absent)
                cluster.StartNode(n);
        }
        return cluster;
    }

    public TransportOptions OptionsFor(int node, IPEndPoint listen, byte[]? key = null) => Tune(new TransportOptions
    {
        NodeId = node,
        NodeOfVcpu = NodeOfVcpu,
        Key = key ?? Key,
        Listen = listen,
        Peers = [.. Enumerable.Range(0, Nodes.Length).Where(p => p != node).Select(p => new PeerAddress(p, p > node ? _route(p, _listen[p]!) : null))],
        Log = line => Log.Enqueue(line),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
        WindowRecords = 1 << 16, // tests need no second of full-rate traffic queued: keep the suite's memory small
    });

    /// <summary>(Re)starts node <paramref name="node"/> on its previous port if it had one.</summary>
    public void StartNode(int node)
    {
        Sinks[node] = new RecordingSink();
        var transport = new NodeTransport(OptionsFor(node, _listen[node] ?? new IPEndPoint(IPAddress.Loopback, 0)));
        transport.Start(Sinks[node]);
        _listen[node] = transport.LocalEndPoint;
        Nodes[node] = transport;
    }

    public bool AllConnected => Nodes.All(n => n is null || n.Links.All(l => l.IsConnected || Nodes[l.PeerNode] is null));

    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        foreach (var node in Nodes)
        {
            if (node is not null && !await node.DrainAsync(timeout))
                return false;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node is not null)
                await node.DisposeAsync();
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the timeout passes.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(5);
        }
        return true;
    }
}
