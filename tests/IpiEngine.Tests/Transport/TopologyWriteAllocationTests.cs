using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// What a replicated topology write allocates, process-wide (the writer, the links' loops and every node's applier are
/// different threads), so the collection runs alone. Topology writes are rare: the bound only catches waste coming back
/// (per-digest arrays, LINQ in the protocol), not the routing snapshot each node builds per write.
/// </summary>
[CollectionDefinition(nameof(TopologyWriteAllocationTests), DisableParallelization = true)]
[Collection(nameof(TopologyWriteAllocationTests))]
public class TopologyWriteAllocationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Bytes per write: <paramref name="writes"/> SVR writes (enable kept set) posted on <paramref name="node"/>, after a warm-up.</summary>
    private static double BytesPerWrite(Engine writer, int vcpu, int writes)
    {
        for (uint k = 0; k < 64; k++)
            writer.Post(vcpu, ApicRegister.Svr, 0x1FFu ^ (k & 1), 0); // warm-up: JIT, queue segments, pipe buffers
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (uint k = 0; k < writes; k++)
            writer.Post(vcpu, ApicRegister.Svr, 0x1FFu ^ (k & 1), 0);
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)writes;
    }

    [Fact]
    public async Task A_replicated_topology_write_allocates_little_more_than_each_nodes_routing_snapshot()
    {
        using var alone = new Engine(new EngineOptions { Topology = ApicTopology.Configure(3, TopologyKind.XApicPhysical) });
        alone.Start();
        double snapshot = BytesPerWrite(alone, 0, 400); // one engine, no replication: the new routing map per write
        alone.Stop();

        await using var vm = ReplicatedVm.Start(nodes: 3, vcpus: 3);
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => vm.AllConnected, Bound));
        double replicated = BytesPerWrite(vm.Engine(2), 2, 400); // from the last node: Request, Commit, State, Done
        double protocol = replicated - 3 * snapshot;
        TestContext.Current.TestOutputHelper?.WriteLine($"routing snapshot {snapshot:0} B per node; replicated write over 3 nodes {replicated:0} B; protocol {protocol:0} B");
        // 3 vCPUs: the map's 256-entry xAPIC tables are about 5.5 KB; it was 9 KB while the build cloned and dropped some.
        Assert.True(snapshot < 7 * 1024, $"a routing snapshot of 3 vCPUs allocates {snapshot:0} B");
        Assert.True(protocol < 4096, $"a replicated write allocates {replicated:0} B, {protocol:0} B beyond the three nodes' routing snapshots ({snapshot:0} B each)");
    }
}
