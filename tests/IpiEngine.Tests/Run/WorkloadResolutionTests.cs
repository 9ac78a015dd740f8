using IpiEngine.Apic;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>The generated writes, resolved by the APIC resolver, reach exactly the vCPUs the generator meant.</summary>
public class WorkloadResolutionTests
{
    public static TheoryData<TopologyKind, bool, int, string> Cases()
    {
        var data = new TheoryData<TopologyKind, bool, int, string>();
        foreach (var (kind, vcpus) in new[] { (TopologyKind.XApicFlat, 8), (TopologyKind.XApicCluster, 23), (TopologyKind.XApicPhysical, 16), (TopologyKind.X2ApicPhysical, 37), (TopologyKind.X2ApicCluster, 40) })
        {
            foreach (var sparse in new[] { false, true })
            {
                if (sparse && kind is TopologyKind.XApicFlat or TopologyKind.XApicCluster)
                {
                    continue; // logical xAPIC addresses by LDR, not by APIC ID: sparse IDs change nothing there
                }

                foreach (var mix in WorkloadMix.PatternNames.Append("call=1,pv-ipi=3"))
                {
                    data.Add(kind, sparse, vcpus, mix);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_ipi_reaches_exactly_the_vcpus_the_generator_meant_each_once(TopologyKind kind, bool sparse, int vcpus, string mixName)
    {
        Assert.True(WorkloadMix.TryParse(mixName, out var mix, out _));
        var addresses = VcpuAddressBook.From(ApicTopology.Configure(vcpus, kind, sparse), kind);
        var script = WorkloadGenerator.Generate(addresses, mix!, 5, 400);
        var resolver = new IcrResolver(ApicTopology.Configure(vcpus, kind, sparse));
        var destinations = new DestinationSet(vcpus);

        foreach (var vcpu in script.Vcpus)
        {
            var intended = WorkloadGenerator.IntendedDestinations(addresses, mix!, 5, vcpu.Vcpu, 400);
            var reachedByTag = new Dictionary<ulong, List<int>>();
            var reached = new HashSet<int>();
            var tag = ulong.MaxValue;
            foreach (var record in vcpu.Records)
            {
                var outcome = resolver.Process(record, destinations);
                Assert.NotEqual(ExitKind.Rejected, outcome.Kind);
                if (outcome.Kind != ExitKind.Fired)
                {
                    continue;
                }

                if (record.Tag != tag)
                {
                    reached.Clear(); // a new IPI (one tag per generated IPI, over one or more writes)
                    tag = record.Tag;
                }

                if (!reachedByTag.TryGetValue(record.Tag, out var all))
                {
                    reachedByTag[record.Tag] = all = [];
                }

                all.AddRange(destinations.Vcpus.ToArray());

                Assert.NotEqual(0, destinations.Count);
                foreach (var d in destinations.Vcpus)
                {
                    Assert.NotEqual(vcpu.Vcpu, d);
                    Assert.True(reached.Add(d), $"vCPU {d} reached twice by one IPI");
                }

                if (mixName == "broadcast")
                {
                    Assert.Equal(vcpus - 1, destinations.Count);
                }
                else if (mixName is "unicast" or "storm")
                {
                    Assert.Equal(1, destinations.Count);
                }
            }

            // Every IPI the generator drew reached exactly its set (over all of its writes), and nothing else was sent.
            Assert.Equal(intended.Keys.Order(), reachedByTag.Keys.Order());
            foreach (var (ipi, set) in intended)
            {
                Assert.Equal(set.Order(), reachedByTag[ipi].Order());
            }
        }
    }

    [Theory]
    [InlineData(TopologyKind.XApicFlat)]
    [InlineData(TopologyKind.X2ApicCluster)]
    public void Bring_up_sends_init_and_sipi_to_each_application_processor_once(TopologyKind kind)
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(kind, 6), WorkloadMix.LinuxMix, 1, 10);
        var resolver = new IcrResolver(ApicTopology.Configure(6, kind));
        var destinations = new DestinationSet(6);
        var received = new List<(DeliveryMode Mode, int Destination)>();

        foreach (var record in script.BringUp)
        {
            var outcome = resolver.Process(record, destinations);
            Assert.NotEqual(ExitKind.Rejected, outcome.Kind);
            foreach (var d in destinations.Vcpus)
            {
                received.Add((outcome.Command.DeliveryMode, d));
            }
        }

        var expected = Enumerable.Range(1, 5).SelectMany(ap => new[] { (DeliveryMode.Init, ap), (DeliveryMode.StartUp, ap), (DeliveryMode.StartUp, ap) });
        Assert.Equal(expected, received); // the INIT level de-assert delivers nothing
    }
}
