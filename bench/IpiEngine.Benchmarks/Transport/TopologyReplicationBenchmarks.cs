using System.Diagnostics;
using System.Net;
using BenchmarkDotNet.Attributes;
using HdrHistogram;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Perf.Suite;
using IpiEngine.Transport;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// Topology-write round trip over 2 and 3 loopback nodes (in this process, one engine and one
/// <see cref="NodeTransport"/> per node, vCPU v on node v): one operation is one SVR write posted on a node, returning
/// once every node applied it (Request to the sequencer, Commit to every node, State back, Done). Writes from the
/// sequencer (node 0) skip the first hop; writes from the last node take all four. Each write's round trip goes into a
/// histogram printed as p50/p99 at cleanup. Topology writes are rare, so this is about latency, not throughput; a write
/// allocates (the sequencer's log and the per-node order grow by one entry), so it is not tagged ZeroAlloc.
/// </summary>
[BenchmarkCategory("Transport")]
[MemoryDiagnoser]
public class TopologyReplicationBenchmarks
{
    private BenchNodes _nodes = null!;
    private LongHistogram _roundTrips = null!;
    private uint _flip;

    /// <summary>Nodes of the VM.</summary>
    [Params(2, 3)]
    public int Nodes { get; set; }

    /// <summary>Which node writes: the sequencer (node 0) or the last node.</summary>
    [Params(false, true)]
    public bool FromLastNode { get; set; }

    /// <summary>Starts the nodes (highest id first, so each dialer knows its acceptors' ports) and waits for every link.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNodes.Start([.. Enumerable.Range(0, Nodes)], () => ApicTopology.Configure(Nodes, TopologyKind.XApicPhysical));
        _roundTrips = new LongHistogram(Stopwatch.Frequency * 60, 3);
    }

    /// <summary>One SVR write (software enable kept set, the vector bits alternating), returning once applied on every node.</summary>
    [Benchmark]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void TopologyWriteRoundTrip()
    {
        int vcpu = FromLastNode ? Nodes - 1 : 0;
        long start = Stopwatch.GetTimestamp();
        _nodes.Engines[vcpu].Post(vcpu, ApicRegister.Svr, 0x1FFu ^ (_flip++ & 1), 0);
        _roundTrips.RecordValue(Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Prints the round-trip percentiles and stops every node.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        double Us(double p) => _roundTrips.TotalCount == 0 ? 0 : _roundTrips.GetValueAtPercentile(p) * 1e6 / Stopwatch.Frequency;
        Console.WriteLine($"// topology-write round trip, {Nodes} nodes, from node {(FromLastNode ? Nodes - 1 : 0)}: "
            + $"p50 {Us(50):0.0} us, p99 {Us(99):0.0} us over {_roundTrips.TotalCount} writes");
        _nodes.Dispose();
    }
}
