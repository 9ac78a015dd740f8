using IpiEngine.Pipeline;
using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>The bundled QEMU traces through the concurrent engine, one thread per vCPU, equal their sequential reference.</summary>
public class ConcurrentTraceReplayTests
{
    [Theory]
    [InlineData("xapic-flat-smp4", ThreadingMode.Fused)]
    [InlineData("xapic-phys-smp4", ThreadingMode.Fused)]
    [InlineData("x2apic-cluster-smp4", ThreadingMode.Fused)]
    [InlineData("x2apic-phys-smp8", ThreadingMode.Fused)]
    [InlineData("xapic-flat-smp4", ThreadingMode.PerStage)]
    [InlineData("x2apic-cluster-smp4", ThreadingMode.PerStage)]
    [InlineData("x2apic-phys-smp8", ThreadingMode.PerStage)]
    [InlineData("xapic-flat-smp4", ThreadingMode.Inline)] // one poster thread per vCPU: serialised by Inline's lock
    [InlineData("xapic-phys-smp4", ThreadingMode.Inline)]
    [InlineData("x2apic-cluster-smp4", ThreadingMode.Inline)]
    [InlineData("x2apic-phys-smp8", ThreadingMode.Inline)]
    public void Bundled_trace_through_the_concurrent_engine_equals_the_reference(string name, ThreadingMode mode)
    {
        uint[] ids = TraceReader.ReadVcpus(RepoFiles.Path("traces", name + ".vcpus.csv"));
        ExitRecord[] exits = TraceReader.ReadExits(RepoFiles.Path("traces", name + ".exits.csv"), ids.Length);
        ReplayResult reference = SequentialReplay.Run(ids, exits);

        ConcurrentReplayResult result = ConcurrentTraceReplay.Run(ids, exits, mode, WaitStrategyKind.Hybrid, ringCapacity: 256);

        Assert.Null(result.FirstDifference(reference));
        Assert.True(result.Counters.ConservationHolds, result.Counters.ToString());
        Assert.Equal(exits.Length, result.Counters.Posted);
        Assert.Equal(reference.Counters.Fired, result.Counters.IpisResolved);
        Assert.Equal(reference.Counters.Rejected, result.Counters.Rejected);
        Assert.Equal(reference.Counters.TopologyWrites, result.Counters.TopologyWrites);
        Assert.Equal(reference.Counters.Destinations, result.Counters.DestinationsResolved);
    }
}
