using BenchmarkDotNet.Attributes;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Perf.Suite;
using IpiEngine.Transport;
using IpiEngine.Workload;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// Issue 14's isolation as a figure: the local delivery rate of a node while one of its two peers is stopped, against
/// none stopped. Three nodes in this process (6 vCPUs, vCPU v on node v % 3, x2APIC cluster, linux-mix); node 0's vCPUs
/// post, node 0 delivers its local targets and forwards the rest. With <see cref="PeerStopped"/>, node 2 stops taking
/// frames for the whole run (its receive loop is held in its sink, so it reads and acknowledges nothing: a paused process
/// as node 0 sees it), and node 0's deliveries for it wait in that peer's own queue. One operation is one IPI posted on
/// node 0; an invocation ends when node 0 resolved everything and node 1 acknowledged everything forwarded to it.
/// The queue (2^22 records) does not outlast a run: node 0 forwards about 2,800 records a millisecond to node 2, so the
/// queue is full within the first seconds of the pilot and warm-up, and the fail policy then declares node 2 unreachable
/// (a full profile, thirty-ninth session: 3.7 M records queued, 28-35 M refused). So the stopped row measures local
/// delivery beside a peer that is stopped and declared unreachable, every record for it refused and counted, not
/// "stopped with room"; the cleanup prints both counts. A stop with room is checked by NodeProcessFaultTests (node 2
/// paused with SIGSTOP, node 0's local rate during the pause). No per-iteration setup: it would give this benchmark a
/// job, and a build, of its own.
/// </summary>
[BenchmarkCategory("Transport")]
[MemoryDiagnoser]
public class StoppedPeerBenchmarks
{
    /// <summary>IPIs each of node 0's vCPUs posts per invocation.</summary>
    public const int IpisPerVcpu = 1 << 13;

    private const int Nodes = 3;
    private const int Vcpus = 6;
    private readonly HeldSink _node2 = new();
    private BenchNodes _nodes = null!;
    private ExitRecord[][] _records = null!;

    /// <summary>Whether node 2 is stopped during the measured iterations.</summary>
    [Params(false, true)]
    public bool PeerStopped { get; set; }

    /// <summary>Builds the workload, starts the three nodes (highest id first: each dialer knows its acceptors' ports) and waits for every link.</summary>
    [GlobalSetup]
    public void Setup()
    {
        int[] placement = [.. Enumerable.Range(0, Vcpus).Select(v => v % Nodes)];
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(Vcpus, TopologyKind.X2ApicCluster), TopologyKind.X2ApicCluster),
            WorkloadMix.LinuxMix, seed: 1, IpisPerVcpu);
        _records = [.. Enumerable.Range(0, Vcpus).Where(v => placement[v] == 0).Select(v => script.Vcpus[v].Records)];
        _nodes = BenchNodes.Start(placement, () => ApicTopology.Configure(Vcpus, TopologyKind.X2ApicCluster),
            (node, sink) => node == 2 ? _node2.Wrapping(sink) : sink, windowRecords: 1 << 22, fullQueuePolicy: FullQueuePolicy.Fail);
        if (PeerStopped)
            _node2.Hold();
    }

    /// <summary>Posts node 0's vCPUs' scripts; returns once node 0 resolved all of it and node 1 acknowledged all it was sent.</summary>
    [Benchmark(OperationsPerInvoke = IpisPerVcpu * Vcpus / Nodes)]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void LocalDeliveryWithPeers()
    {
        foreach (ExitRecord[] records in _records)
            _nodes.Engines[0].PostBatch(records[0].SourceVcpu, records);

        var toNode1 = _nodes.Transports[0].Link(1);
        var spin = new SpinWait();
        while (_nodes.Engines[0].ReadCounters().InFlight != 0 || toNode1.Counters.InFlight != 0)
            spin.SpinOnce();
    }

    /// <summary>Stops every node (transports first: nothing reaches an engine after it is freed).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        var toNode2 = _nodes.Transports[0].Link(2).Counters;
        Console.WriteLine($"// node 2 {(PeerStopped ? "stopped" : "running")}: {toNode2.Forwarded} records forwarded to it, {toNode2.InFlight} queued at the end, {toNode2.Unreachable} refused (queue full)");
        _node2.Release();
        _nodes.Dispose();
        _node2.Dispose();
    }

    /// <summary>Node 2's sink: while held, its receive loop waits here (reading nothing more) before handing frames on.</summary>
    private sealed class HeldSink : RemoteDeliverySink, IDisposable
    {
        private readonly ManualResetEventSlim _open = new(initialState: true);

        private RemoteDeliverySink? _next;

        public HeldSink Wrapping(RemoteDeliverySink next)
        {
            _next = next;
            return this;
        }

        public void Hold() => _open.Reset();

        public void Release() => _open.Set();

        public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        {
            _open.Wait();
            _next!.Deliver(fromNode, deliveries);
        }

        public void Dispose() => _open.Dispose();
    }
}
