using IpiEngine.Apic;
using IpiEngine.Workload;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// What one node must receive, computed without the network: the VM's scripts, each vCPU's first <c>posted[v]</c>
/// firing writes (looping as <see cref="NodeScript.Post"/> does), run through an <see cref="IcrResolver"/> on one
/// thread. x2APIC topologies take no topology writes during the run and each vCPU's ICR latch is its own, so the
/// sequential resolution gives the same destinations as the engines' concurrent one.
/// </summary>
internal sealed class NodeExpectation
{
    private readonly long[] _pairs;

    private NodeExpectation(int vcpus, long[] pairs, long local, long forwarded, long remote)
    {
        Vcpus = vcpus;
        _pairs = pairs;
        Local = local;
        Forwarded = forwarded;
        Remote = remote;
    }

    /// <summary>vCPUs of the VM.</summary>
    public int Vcpus { get; }

    /// <summary>Deliveries from this node's vCPUs to this node's vCPUs.</summary>
    public long Local { get; }

    /// <summary>Deliveries from this node's vCPUs to other nodes' vCPUs (the engine forwards them).</summary>
    public long Forwarded { get; }

    /// <summary>Deliveries from other nodes' vCPUs to this node's vCPUs.</summary>
    public long Remote { get; }

    /// <summary>Deliveries expected from vCPU <paramref name="source"/> (local or remote) at local vCPU <paramref name="destination"/>.</summary>
    public long Pair(int source, int destination) => _pairs[source * Vcpus + destination];

    /// <summary>Computes the expectation of node <paramref name="self"/> for the IPIs <paramref name="posted"/> per vCPU.</summary>
    public static NodeExpectation Compute(NodeScript script, IReadOnlyList<int> nodeOfVcpu, int self, IReadOnlyList<long> posted)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        ArgumentNullException.ThrowIfNull(posted);
        int vcpus = script.Script.Vcpus.Length;
        var resolver = new IcrResolver(script.NewTopology());
        var destinations = new DestinationSet(vcpus);
        var pairs = new long[vcpus * vcpus];
        long local = 0, forwarded = 0, remote = 0;
        for (int v = 0; v < vcpus; v++)
        {
            VcpuScript vcpu = script.Script.Vcpus[v];
            bool fromHere = nodeOfVcpu[v] == self;
            int cursor = 0;
            for (long fired = 0; fired < posted[v];)
            {
                ref readonly var record = ref vcpu.Records[cursor];
                cursor = (cursor + 1) % vcpu.Records.Length;
                var outcome = resolver.Process(record, destinations);
                if (!ApicRegister.FiresIpi(record.Register))
                    continue;
                fired++;
                if (outcome.Kind != ExitKind.Fired)
                    continue;
                foreach (int d in destinations.Vcpus)
                {
                    bool toHere = nodeOfVcpu[d] == self;
                    if (toHere)
                        pairs[v * vcpus + d]++;
                    if (fromHere && toHere)
                        local++;
                    else if (fromHere)
                        forwarded++;
                    else if (toHere)
                        remote++;
                }
            }
        }
        return new NodeExpectation(vcpus, pairs, local, forwarded, remote);
    }
}
