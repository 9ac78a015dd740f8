using IpiEngine.Apic;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

public class VcpuScriptTests
{
    [Fact]
    public void Firing_writes_by_mode_count_whole_passes_and_the_partial_one()
    {
        var script = WorkloadGenerator.Generate(AddressBooks.Dense(TopologyKind.XApicPhysical, 4), WorkloadMix.Unicast, 1, 10);
        var perMode = new long[8];

        script.Vcpus[1].CountFiringByMode(25, perMode);

        Assert.Equal(25, perMode[(int)DeliveryMode.Fixed]);
        Assert.Equal(25, perMode.Sum());
    }

    [Fact]
    public void Bring_up_modes_are_counted_as_init_and_start_up()
    {
        var book = AddressBooks.Dense(TopologyKind.X2ApicPhysical, 3);
        var bringUp = WorkloadGenerator.Generate(book, WorkloadMix.Unicast, 1, 1).BringUp;
        var script = new VcpuScript(0, bringUp, [.. Enumerable.Range(0, bringUp.Length + 1)]);
        var perMode = new long[8];

        script.CountFiringByMode(8, perMode);

        Assert.Equal(4, perMode[(int)DeliveryMode.Init]); // assert and de-assert, for two APs
        Assert.Equal(4, perMode[(int)DeliveryMode.StartUp]);
    }

    [Fact]
    public void A_pv_ipi_is_counted_by_its_icr_low_not_by_its_apic_id_bitmap()
    {
        var book = AddressBooks.Dense(TopologyKind.X2ApicPhysical, 16);
        var records = new List<ExitRecord>();
        book.AppendPvIpi(records, 0, 0xFC, [1, 9], tag: 0); // bitmap 0x101: bit 8 set, as a lowest-priority ICR would have
        var script = new VcpuScript(0, [.. records], [0, 0, 1]);
        var perMode = new long[8];

        script.CountFiringByMode(3, perMode);

        Assert.Equal(3, perMode[(int)DeliveryMode.Fixed]);
        Assert.Equal(3, perMode.Sum());
    }
}
