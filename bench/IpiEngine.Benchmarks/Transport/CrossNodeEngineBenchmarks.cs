using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Perf.Suite;
using IpiEngine.Transport;
using IpiEngine.Workload;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// Cross-node IPIs through whole engines: two nodes in this process (8 vCPUs, vCPU v on node v % 2, x2APIC cluster,
/// the default linux-mix workload), each an <see cref="Engine"/> whose forwarder is a <see cref="NodeTransport"/> on one
/// loopback link; node 0's vCPUs post, node 0 resolves, delivers its local targets (or counts them as served by the
/// host's kernel, <see cref="LocalTargets.Kernel"/>) and forwards the rest, node 1 applies them. One operation is one
/// IPI posted on node 0; an invocation ends when node 0 has resolved everything and node 1 has applied everything
/// forwarded. The figure to hold when topology replication lands: no slower than before (topology writes are rare).
/// </summary>
[BenchmarkCategory("Transport")]
[MemoryDiagnoser]
public class CrossNodeEngineBenchmarks
{
    /// <summary>IPIs each of node 0's vCPUs posts per invocation.</summary>
    public const int IpisPerVcpu = 1 << 14;

    private const int Vcpus = 8;
    private readonly NodeTransport[] _transports = new NodeTransport[2];
    private readonly Engine[] _engines = new Engine[2];
    private ExitRecord[][] _records = null!;

    /// <summary>Who serves node 0's local targets.</summary>
    [Params(LocalTargets.Engine, LocalTargets.Kernel)]
    public LocalTargets LocalTargets { get; set; }

    /// <summary>Builds the workload, starts both nodes and waits for the link.</summary>
    [GlobalSetup]
    public void Setup()
    {
        int[] placement = [.. Enumerable.Range(0, Vcpus).Select(v => v % 2)];
        var key = new byte[32];
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(Vcpus, TopologyKind.X2ApicCluster), TopologyKind.X2ApicCluster),
            WorkloadMix.LinuxMix, seed: 1, IpisPerVcpu);
        _records = [.. Enumerable.Range(0, Vcpus).Where(v => placement[v] == 0).Select(v => script.Vcpus[v].Records)];
        for (int node = 1; node >= 0; node--)
        {
            _transports[node] = new NodeTransport(new TransportOptions
            {
                NodeId = node,
                NodeOfVcpu = placement,
                Key = key,
                Peers = [node == 0 ? new PeerAddress(1, _transports[1].LocalEndPoint) : new PeerAddress(0)],
            });
            _engines[node] = new Engine(new EngineOptions
            {
                Topology = ApicTopology.Configure(Vcpus, TopologyKind.X2ApicCluster),
                Placement = new VcpuPlacement(placement, node),
                Forwarder = _transports[node],
                LocalTargets = LocalTargets,
                Name = $"bench-node{node}",
            });
            _transports[node].Start(new EngineSink(_engines[node]));
            _engines[node].Start();
        }

        LinkWait.Until(() => _transports[0].Link(1).IsConnected, "the link between the two engines was");
    }

    /// <summary>Posts every one of node 0's vCPUs' scripts and waits until all of it is resolved, delivered or applied on node 1.</summary>
    [Benchmark(OperationsPerInvoke = IpisPerVcpu * Vcpus / 2)]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void PostOnOneNodeDeliverOnBoth()
    {
        foreach (ExitRecord[] records in _records)
        {
            _engines[0].PostBatch(records[0].SourceVcpu, records);
        }

        var spin = new SpinWait();
        while (true)
        {
            EngineCounters sender = _engines[0].ReadCounters();
            EngineCounters receiver = _engines[1].ReadCounters();
            if (sender.InFlight == 0 && sender.ConservationHolds && receiver.RemoteDelivered + receiver.RemoteCoalesced == sender.Forwarded)
            {
                return;
            }

            spin.SpinOnce();
        }
    }

    /// <summary>Stops both nodes (transports first: nothing reaches an engine after it is freed).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (NodeTransport transport in _transports)
        {
            transport.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (Engine engine in _engines)
        {
            engine.Dispose();
        }
    }
}
