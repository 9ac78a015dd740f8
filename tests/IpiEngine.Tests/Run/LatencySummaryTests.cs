using IpiEngine.Cli.Run;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>The latency summary of a multi-node run: the worst node's percentiles, and what a table shows with none.</summary>
public class LatencySummaryTests
{
    [Fact]
    public void The_vm_summary_takes_each_percentile_from_the_worst_sampled_node_and_leaves_out_nodes_with_none()
    {
        var worst = LatencySummary.Worst([new(10, 100, 900, 950, 990), new(0, 0, 0, 0, 0), new(5, 300, 400, 500, 600)]);

        Assert.Equal(new LatencySummary(15, 300, 900, 950, 990), worst);
        Assert.Equal("0.3", worst.Micros(worst.P50));
    }

    [Fact]
    public void Without_a_sample_a_percentile_is_shown_as_a_dash_not_as_zero()
    {
        var none = LatencySummary.Worst([new(0, 0, 0, 0, 0)]);

        Assert.Equal(0, none.Samples);
        Assert.Equal("-", none.Micros(none.P99));
    }
}
