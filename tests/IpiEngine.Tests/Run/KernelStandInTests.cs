using IpiEngine.Apic;
using IpiEngine.Cli.TraceNodes;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>The trace-over-nodes run's kernel stand-in: what it keeps grows with what it serves, not with vCPUs squared.</summary>
public class KernelStandInTests
{
    [Fact]
    public void A_recording_stand_in_for_a_50000_vcpu_trace_keeps_no_pair_matrix()
    {
        uint[] ids = [.. Enumerable.Range(0, 50_000).Select(i => (uint)i)];
        int[] placement = [.. Enumerable.Range(0, ids.Length).Select(v => v % 2)];

        // 50,000^2 overflowed an int (and 8 x 2.5e9 bytes would not fit anyway): the constructor threw.
        var kernel = new KernelStandIn(ApicTopology.Reset(ids), placement, self: 0, recordServed: true);

        Assert.Null(kernel.ServedPairs); // it records each served target instead
        Assert.Equal(0, kernel.ServedTotal);
        Assert.Empty(kernel.Served);
    }
}
