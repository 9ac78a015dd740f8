using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

public class ApicTopologyTests
{
    [Fact]
    public void Reset_state_is_enabled_software_disabled_xapic_flat_ldr_0()
    {
        ApicTopology topology = ApicTopology.Reset([0, 0x19]);

        ApicState apic = topology.Apics[1];
        Assert.Equal(ApicState.Reset(0x19), apic);
        Assert.True(apic.GloballyEnabled);
        Assert.False(apic.SoftwareEnabled);
        Assert.False(apic.X2Apic);
        Assert.Equal(0u, apic.Ldr);
        Assert.Equal(ApicState.DfrFlat, apic.DfrModel);
        Assert.Equal(0x19u, topology.CurrentApicId(1));
    }

    [Theory]
    [InlineData(TopologyKind.XApicFlat, 9, false)]
    [InlineData(TopologyKind.XApicCluster, 61, false)]
    [InlineData(TopologyKind.XApicPhysical, 256, false)]
    [InlineData(TopologyKind.XApicPhysical, 129, true)]
    [InlineData(TopologyKind.X2ApicCluster, 0, false)]
    public void Configure_refuses_counts_the_kind_cannot_address(TopologyKind kind, int count, bool sparse)
    {
        var error = Assert.Throws<ArgumentException>(() => ApicTopology.Configure(count, kind, sparse));
        Assert.Contains($"not {count}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configure_sets_up_apics_as_an_os_would()
    {
        ApicTopology cluster = ApicTopology.Configure(6, TopologyKind.XApicCluster);
        Assert.Equal(0x12u << 24, cluster.Apics[5].Ldr); // cluster 1, member bit 1
        Assert.Equal(ApicState.DfrCluster, cluster.Apics[5].DfrModel);
        Assert.True(cluster.Apics[5].SoftwareEnabled);

        ApicTopology x2 = ApicTopology.Configure(40, TopologyKind.X2ApicCluster, sparseIds: true);
        Assert.True(x2.IsX2Apic(39));
        Assert.Equal(117u, x2.CurrentApicId(39));
        Assert.Equal((7u << 16) | (1u << 5), x2.Apics[39].Ldr); // ID 117 = cluster 7, member 5
    }

    [Fact]
    public void Xapic_registers_set_id_ldr_dfr_and_svr()
    {
        ApicTopology topology = ApicTopology.Reset([0]);

        Assert.True(topology.Apply(0, ApicRegister.Id, 0x0900_0000));
        Assert.True(topology.Apply(0, ApicRegister.Ldr, 0x1200_0000));
        Assert.True(topology.Apply(0, ApicRegister.Dfr, 0x0FFF_FFFF));
        Assert.True(topology.Apply(0, ApicRegister.Svr, 0x1FF));
        Assert.False(topology.Apply(0, ApicRegister.IcrLow, 0x40FD));

        Assert.Equal(new ApicState(0, 9, 0x12, ApicState.DfrCluster, true, true, false), topology.Apics[0]);
    }

    [Fact]
    public void Switching_to_x2apic_uses_the_initial_id_and_the_derived_ldr_and_ignores_xapic_id_ldr_dfr()
    {
        ApicTopology topology = ApicTopology.Reset([0x23]);
        topology.Apply(0, ApicRegister.Id, 0x0500_0000);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0C00);

        topology.Apply(0, ApicRegister.Ldr, 0xFF00_0000); // QEMU apic_register_write refuses these in x2APIC mode
        topology.Apply(0, ApicRegister.Dfr, 0x0FFF_FFFF);
        topology.Apply(0, ApicRegister.Id, 0x0700_0000);
        topology.Apply(0, ApicRegister.X2Svr, 0x1FF);

        Assert.True(topology.IsX2Apic(0));
        Assert.True(topology.Apics[0].SoftwareEnabled);
        Assert.Equal(0x23u, topology.CurrentApicId(0));
        Assert.Equal(5, topology.Apics[0].XApicId);
        Assert.Equal(ApicState.DfrFlat, topology.Apics[0].DfrModel);
        Assert.Equal((2u << 16) | (1u << 3), topology.Apics[0].Ldr);
    }

    [Fact]
    public void The_svr_written_through_mmio_takes_effect_in_x2apic_mode_too()
    {
        ApicTopology topology = ApicTopology.Reset([0]);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0C00);

        topology.Apply(0, ApicRegister.Svr, 0x1FF); // QEMU: apic_mem_write does not check the mode, SVR has no guard

        Assert.True(topology.Apics[0].SoftwareEnabled);
    }

    [Theory]
    [InlineData(0x23u, 0x08)] // ID bits 3:0 = 3: the derived LDR's low byte
    [InlineData(0x2Au, 0x00)] // ID bits 3:0 = 10: the member bit is above the low byte
    public void Entering_x2apic_overwrites_the_xapic_logical_id_with_the_derived_ldr_low_byte(uint id, byte expected)
    {
        ApicTopology topology = ApicTopology.Reset([id]);
        topology.Apply(0, ApicRegister.Ldr, 0x8000_0000);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0C00); // QEMU apic_set_base: log_dest = (uint8_t)derived LDR
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0000);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0800);

        Assert.False(topology.IsX2Apic(0));
        Assert.Equal(expected, topology.Apics[0].LogicalId);
    }

    [Fact]
    public void Invalid_apic_base_transitions_change_nothing()
    {
        ApicTopology topology = ApicTopology.Reset([1]);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0400); // x2APIC without global enable
        Assert.Equal(ApicState.Reset(1), topology.Apics[0]);

        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0C00);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0800); // x2APIC straight back to xAPIC
        Assert.True(topology.IsX2Apic(0));

        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0000); // global disable leaves x2APIC mode
        Assert.False(topology.Apics[0].GloballyEnabled);
        Assert.False(topology.IsX2Apic(0));
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0C00); // disabled straight to x2APIC
        Assert.False(topology.Apics[0].GloballyEnabled);
        topology.Apply(0, ApicRegister.ApicBase, 0xFEE0_0800); // disabled to xAPIC is fine
        Assert.True(topology.Apics[0].GloballyEnabled);
        Assert.False(topology.Apics[0].SoftwareEnabled); // the disable cleared SVR bit 8
    }
}
