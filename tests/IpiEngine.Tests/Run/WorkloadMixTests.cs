using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

public class WorkloadMixTests
{
    [Theory]
    [InlineData("unicast")]
    [InlineData("multicast")]
    [InlineData("broadcast")]
    [InlineData("linux-mix")]
    [InlineData("storm")]
    public void Every_named_pattern_parses(string name)
    {
        Assert.True(WorkloadMix.TryParse(name, out var mix, out var error));
        Assert.Null(error);
        Assert.Equal(name, mix!.Name);
        Assert.True(mix.TotalWeight > 0);
    }

    [Fact]
    public void Pick_follows_the_weights_exactly()
    {
        Assert.True(WorkloadMix.TryParse("single=2,broadcast=3", out var mix, out _));
        var picks = Enumerable.Range(0, mix!.TotalWeight).Select(mix.PickVcpuKind).ToArray();

        Assert.Equal([IpiKind.CallFunctionSingle, IpiKind.CallFunctionSingle, IpiKind.Broadcast, IpiKind.Broadcast, IpiKind.Broadcast], picks);
    }

    [Fact]
    public void Device_weights_are_drawn_apart_from_the_vcpus_kinds()
    {
        Assert.True(WorkloadMix.TryParse("single=2,msi=1,ioapic=3,pv-ipi=1", out var mix, out _));

        Assert.Equal(7, mix!.TotalWeight);
        Assert.Equal(4, mix.DeviceWeight);
        Assert.Equal(3, mix.VcpuWeight);
        Assert.True(mix.HasDevices);
        Assert.Equal([IpiKind.CallFunctionSingle, IpiKind.CallFunctionSingle, IpiKind.PvIpi], Enumerable.Range(0, mix.VcpuWeight).Select(mix.PickVcpuKind));
        Assert.Equal([IpiKind.Msi, IpiKind.IoApic, IpiKind.IoApic, IpiKind.IoApic], Enumerable.Range(0, mix.DeviceWeight).Select(mix.PickDeviceKind));
        Assert.False(WorkloadMix.LinuxMix.HasDevices);
    }

    [Fact]
    public void Linux_mix_is_mostly_unicast_with_rare_broadcasts()
    {
        var mix = WorkloadMix.LinuxMix;
        var unicast = mix.WeightOf(IpiKind.CallFunctionSingle) + mix.WeightOf(IpiKind.Reschedule);

        Assert.True(unicast * 2 > mix.TotalWeight);
        Assert.InRange(mix.WeightOf(IpiKind.Broadcast), 1, mix.TotalWeight / 20);
    }
}
