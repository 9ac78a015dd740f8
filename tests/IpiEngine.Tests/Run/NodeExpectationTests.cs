using IpiEngine.Apic;
using IpiEngine.Cli.Nodes;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <see cref="NodeExpectation"/>: what each node must receive, split from the same seeded script, adds up to what one
/// engine holding every vCPU delivers for that script.
/// </summary>
public class NodeExpectationTests
{
    [Theory]
    [InlineData(2, "linux-mix", TopologyKind.X2ApicCluster)]
    [InlineData(3, "multicast", TopologyKind.X2ApicPhysical)]
    [InlineData(3, "broadcast", TopologyKind.X2ApicCluster)]
    [InlineData(2, "storm", TopologyKind.X2ApicPhysical)]
    [InlineData(2, "linux-mix", TopologyKind.XApicFlat)]
    [InlineData(3, "multicast", TopologyKind.XApicCluster)]
    [InlineData(3, "linux-mix", TopologyKind.XApicPhysical)]
    // Many loops of a short script and a partial last one (the expectation counts repeated loops once).
    [InlineData(2, "linux-mix", TopologyKind.X2ApicCluster, 40, 1013)]
    [InlineData(3, "multicast", TopologyKind.XApicCluster, 40, 1013)]
    [InlineData(2, "linux-mix", TopologyKind.XApicFlat, 37, 999)]
    [InlineData(3, "linux-mix", TopologyKind.XApicPhysical, 50, 1000)]
    [InlineData(2, "single=50,pv-ipi=50", TopologyKind.XApicPhysical, 30, 700)]
    public void The_nodes_expectations_add_up_to_one_engines_deliveries(int nodes, string workload, TopologyKind kind, int scriptIpis = 150, int postedIpis = 150)
    {
        const int vcpus = 7;
        int perVcpu = postedIpis;
        Assert.True(WorkloadMix.TryParse(workload, out var mix, out _));
        var script = NodeScript.Build(vcpus, kind, false, mix!, 5, scriptIpis);
        int[] placement = [.. Enumerable.Range(0, vcpus).Select(v => v % nodes)];
        long[] posted = [.. Enumerable.Repeat((long)perVcpu, vcpus)];

        var expectations = Enumerable.Range(0, nodes).Select(n => NodeExpectation.Compute(script, placement, n, posted)).ToArray();

        // Every delivery is expected once at its destination's node, and once at its source's node as local or forwarded.
        long atDestinations = expectations.Sum(e => e.Local + e.Remote);
        Assert.Equal(expectations.Sum(e => e.Local + e.Forwarded), atDestinations);
        Assert.Equal(atDestinations, expectations.Sum(e => Enumerable.Range(0, vcpus).Sum(s => Enumerable.Range(0, vcpus).Sum(d => e.Pair(s, d)))));
        Assert.True(expectations.Sum(e => e.Remote) > 0);

        using var engine = new Engine(new EngineOptions { Topology = script.NewTopology(), DeliveryLogCapacity = 1 << 16 });
        engine.Start();
        using (var local = new CancellationTokenSource())
        {
            var sent = script.Post(engine, [.. Enumerable.Range(0, vcpus).Select(v => (uint)v)], perVcpu, TimeSpan.MaxValue, 0, null, local.Token);
            Assert.All(sent, n => Assert.Equal(perVcpu, n));
        }
        engine.Stop();
        var counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds);
        Assert.Equal(counters.DestinationsResolved, atDestinations);

        // Pair by pair: each node expects exactly the deliveries one engine made to that node's vCPUs, none to others'.
        Assert.Equal(0, counters.LogOverflow);
        var delivered = new long[vcpus, vcpus];
        foreach (var entry in engine.DeliveryLog!.Entries)
        {
            delivered[entry.SourceVcpu, entry.DestinationVcpu]++;
        }

        for (int s = 0; s < vcpus; s++)
        {
            for (int d = 0; d < vcpus; d++)
            {
                for (int n = 0; n < nodes; n++)
                {
                    Assert.True(expectations[n].Pair(s, d) == (placement[d] == n ? delivered[s, d] : 0),
                        $"node {n} expects {expectations[n].Pair(s, d)} from vCPU {s} to vCPU {d}; one engine delivered {delivered[s, d]} (vCPU {d} on node {placement[d]})");
                }
            }
        }
    }

    [Fact]
    public void A_topology_too_small_for_the_vcpus_is_refused()
    {
        Assert.Throws<ArgumentException>(() => NodeScript.Build(9, TopologyKind.XApicFlat, false, WorkloadMix.LinuxMix, 1, 10));
    }
}
