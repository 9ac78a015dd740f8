using IpiEngine.Apic;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

public class WorkloadGeneratorTests
{
    [Fact]
    public void The_same_seed_gives_the_same_records_and_another_seed_does_not()
    {
        var book = AddressBooks.Dense(TopologyKind.X2ApicCluster, 16);
        var a = WorkloadGenerator.Generate(book, WorkloadMix.LinuxMix, 42, 500);
        var b = WorkloadGenerator.Generate(book, WorkloadMix.LinuxMix, 42, 500);
        var c = WorkloadGenerator.Generate(book, WorkloadMix.LinuxMix, 43, 500);

        for (var v = 0; v < 16; v++)
        {
            Assert.Equal(a.Vcpus[v].Records, b.Vcpus[v].Records);
        }

        Assert.NotEqual(a.Vcpus[3].Records, c.Vcpus[3].Records);
    }

    [Theory]
    [InlineData(TopologyKind.XApicFlat, 8)]
    [InlineData(TopologyKind.XApicCluster, 12)]
    [InlineData(TopologyKind.XApicPhysical, 5)]
    public void XApic_fires_with_an_icr2_then_icr_pair_or_a_lone_shorthand(TopologyKind kind, int vcpus)
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(kind, vcpus), WorkloadMix.LinuxMix, 7, 300);

        foreach (var vcpu in script.Vcpus)
        {
            var records = vcpu.Records;
            for (var i = 0; i < records.Length; i++)
            {
                Assert.Equal(vcpu.Vcpu, records[i].SourceVcpu);
                if (records[i].Register == ApicRegister.IcrHigh)
                {
                    Assert.Equal(ApicRegister.IcrLow, records[i + 1].Register);
                    Assert.Equal(records[i].Value >> 24, (ulong)records[i + 1].DestinationId);
                    i++;
                }
                else
                {
                    Assert.Equal(ApicRegister.IcrLow, records[i].Register);
                    Assert.Equal(0b11UL << 18, records[i].Value & (0b11UL << 18)); // all-excluding-self
                }
            }
        }
    }

    [Theory]
    [InlineData(TopologyKind.X2ApicPhysical)]
    [InlineData(TopologyKind.X2ApicCluster)]
    public void X2Apic_fires_with_one_msr_write_carrying_the_destination_in_bits_63_32(TopologyKind kind)
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(kind, 40), WorkloadMix.LinuxMix, 7, 300);

        foreach (var record in script.Vcpus.SelectMany(v => v.Records))
        {
            Assert.Equal(ApicRegister.X2Icr, record.Register);
            Assert.Equal(record.Value >> 32, (ulong)record.DestinationId);
        }

        Assert.All(script.Vcpus, v => Assert.Equal(v.Records.Length, v.Ipis));
    }

    [Fact]
    public void X2Apic_cluster_multicast_sends_one_write_per_cluster()
    {
        var book = AddressBooks.Dense(TopologyKind.X2ApicCluster, 40);
        var into = new List<ExitRecord>();

        var fired = book.AppendSend(into, 0, 0xFC, [1, 2, 17, 33, 35], 0);

        Assert.Equal(3, fired);
        Assert.Equal([0x0000_0006UL, 0x0001_0002UL, 0x0002_000AUL], into.Select(r => r.Value >> 32));
        Assert.All(into, r => Assert.Equal(0x8FCUL, r.Value & 0xFFFF_FFFF)); // logical mode, fixed, vector 0xFC
    }

    [Fact]
    public void Unicast_goes_to_another_vcpu_by_its_apic_id_in_physical_mode()
    {
        var book = AddressBooks.Sparse(TopologyKind.X2ApicPhysical, 9); // x2APIC IDs 0, 3, 6, ...
        var script = WorkloadGenerator.Generate(book, WorkloadMix.Unicast, 1, 1000);

        foreach (var vcpu in script.Vcpus)
        {
            foreach (var record in vcpu.Records)
            {
                Assert.Equal(0UL, record.Value & (1UL << 11)); // physical
                var vector = record.Value & 0xFF;
                Assert.True(vector is 0xFB or 0xFD);
                var destination = (int)(record.Value >> 32) / 3;
                Assert.Equal(record.Value >> 32, (ulong)destination * 3);
                Assert.InRange(destination, 0, 8);
                Assert.NotEqual(vcpu.Vcpu, destination);
            }
        }
    }

    [Fact]
    public void Storm_sends_everything_to_one_hot_vcpu()
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(TopologyKind.X2ApicPhysical, 6), WorkloadMix.Storm, 1, 50);

        Assert.All(script.Vcpus[1..].SelectMany(v => v.Records), r => Assert.Equal((uint)WorkloadGenerator.StormTarget, r.DestinationId));
        Assert.All(script.Vcpus[0].Records, r => Assert.Equal(1u, r.DestinationId));
    }

    [Fact]
    public void Bring_up_is_init_deassert_and_two_sipis_per_application_processor_from_vcpu_0()
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(TopologyKind.XApicPhysical, 4), WorkloadMix.Unicast, 1, 10);

        Assert.Equal(12, script.BringUpIpis);
        Assert.Equal(24, script.BringUp.Length); // ICR2 + ICR each
        Assert.All(script.BringUp, r => Assert.Equal(0, r.SourceVcpu));
        var icrLows = script.BringUp.Where(r => r.Register == ApicRegister.IcrLow).Select(r => (r.Value, r.DestinationId)).ToArray();
        Assert.Equal([(0xC500UL, 1u), (0x8500UL, 1u), (0x699UL, 1u), (0x699UL, 1u)], icrLows[..4]);
    }

    [Fact]
    public void Records_for_ipis_ends_at_a_firing_write()
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(TopologyKind.XApicPhysical, 4), WorkloadMix.Unicast, 1, 10);
        var vcpu = script.Vcpus[2];

        Assert.Equal(0, vcpu.RecordsForIpis(0));
        Assert.Equal(2, vcpu.RecordsForIpis(1));
        Assert.Equal(vcpu.Records.Length, vcpu.RecordsForIpis(vcpu.Ipis));
        Assert.Equal(10, vcpu.Ipis);
        Assert.Equal(2, vcpu.RecordsForIpisFrom(2, 1));
        Assert.Equal(3, vcpu.RecordsForIpisFrom(1, 2)); // from an ICR low: itself, then the next ICR2+ICR pair
    }
}
