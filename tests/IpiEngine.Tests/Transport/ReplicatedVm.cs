using System.Collections.Concurrent;
using System.Net;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// A VM over N in-process nodes on loopback: each node an <see cref="Engine"/> whose forwarder and topology replicator
/// is its <see cref="NodeTransport"/>. vCPU v lives on node v % N. Nodes can be stopped and restarted on their port.
/// </summary>
public sealed class ReplicatedVm : IAsyncDisposable
{
    private readonly IPEndPoint?[] _listen;
    private readonly Func<int, IPEndPoint, IPEndPoint> _route;
    private readonly Func<int, ApicTopology> _topologyOf;
    private readonly TimeSpan _writeTimeout;
    private readonly Action<int>? _notify;
    private readonly bool _assist;

    private ReplicatedVm(int nodes, int vcpus, Func<int, ApicTopology> topologyOf, TimeSpan writeTimeout, Func<int, IPEndPoint, IPEndPoint>? route, Action<int>? notify, bool assist)
    {
        _notify = notify;
        _assist = assist;
        NodeOfVcpu = [.. Enumerable.Range(0, vcpus).Select(v => v % nodes)];
        Transports = new NodeTransport?[nodes];
        Engines = new Engine?[nodes];
        _listen = new IPEndPoint?[nodes];
        _topologyOf = topologyOf;
        _writeTimeout = writeTimeout;
        _route = route ?? ((_, endPoint) => endPoint);
    }

    public int[] NodeOfVcpu { get; }
    public NodeTransport?[] Transports { get; }
    public Engine?[] Engines { get; }
    public ConcurrentQueue<string> Log { get; } = new();

    public NodeTransport Transport(int node) => Transports[node]!;
    public Engine Engine(int node) => Engines[node]!;
    public TopologyReplication Replication(int node) => Transports[node]!.Replication;

    /// <summary>Starts every node, highest id first (so each dialer knows its acceptors' ports); <paramref name="notify"/> is every engine's notifier.</summary>
    public static ReplicatedVm Start(int nodes, int vcpus, TopologyKind kind = TopologyKind.XApicPhysical, TimeSpan? writeTimeout = null,
        Func<int, IPEndPoint, IPEndPoint>? route = null, Func<int, ApicTopology>? topologyOf = null, Action<int>? notify = null, bool assist = true)
    {
        var vm = new ReplicatedVm(nodes, vcpus, topologyOf ?? (_ => ApicTopology.Configure(vcpus, kind)), writeTimeout ?? TimeSpan.FromSeconds(30), route, notify, assist);
        for (int n = nodes - 1; n >= 0; n--)
            vm.StartNode(n);
        return vm;
    }

    /// <summary>(Re)starts node <paramref name="node"/>, fresh (initial topology, new incarnation), on its previous port if it had one.</summary>
    public void StartNode(int node)
    {
        var transport = new NodeTransport(new TransportOptions
        {
            NodeId = node,
            NodeOfVcpu = NodeOfVcpu,
            Key = LoopbackCluster.Key,
            Listen = _listen[node] ?? new IPEndPoint(IPAddress.Loopback, 0),
            Peers = [.. Enumerable.Range(0, Transports.Length).Where(p => p != node).Select(p => new PeerAddress(p, p > node ? _route(p, _listen[p]!) : null))],
            Log = line => Log.Enqueue(line),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
            TopologyWriteTimeout = _writeTimeout,
        });
        var engine = new Engine(new EngineOptions
        {
            Topology = _topologyOf(node),
            Placement = new VcpuPlacement(NodeOfVcpu, node),
            Forwarder = transport,
            Replicator = transport.Replication,
            NotifyCallback = _notify,
            AssistIdlePipeline = _assist,
            Name = $"node{node}",
        });
        transport.Start(new EngineSink(engine));
        engine.Start();
        _listen[node] = transport.LocalEndPoint;
        Transports[node] = transport;
        Engines[node] = engine;
    }

    /// <summary>Stops node <paramref name="node"/> (transport first: nothing reaches the engine after it is freed).</summary>
    public async Task StopNodeAsync(int node)
    {
        if (Transports[node] is { } transport)
            await transport.DisposeAsync();
        Engines[node]?.Dispose();
        Transports[node] = null;
        Engines[node] = null;
    }

    public bool AllConnected => Transports.All(t => t is null || t.Links.All(l => l.IsConnected || Transports[l.PeerNode] is null));

    /// <summary>Every running node connected, and the sequencer (node 0) running and past its recovery: it orders writes.</summary>
    public bool Ready => AllConnected && Transports[0] is { } sequencer && !sequencer.Replication.IsRecovering;

    /// <summary>A physical fixed xAPIC IPI: ICR high (destination in bits 31:24), then ICR low.</summary>
    public void PostXApicIpi(int source, byte destination, byte vector)
    {
        var engine = Engine(NodeOfVcpu[source]);
        engine.Post(source, ApicRegister.IcrHigh, (ulong)destination << 24, destination);
        engine.Post(source, ApicRegister.IcrLow, vector, destination);
    }

    public async ValueTask DisposeAsync()
    {
        for (int node = 0; node < Transports.Length; node++)
            await StopNodeAsync(node);
    }
}
