using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Real <c>ipi node</c> processes on loopback, started and stopped by <see cref="MultiNodeRun"/>.</summary>
public class SeparateProcessTests
{
    [Theory]
    [InlineData(2, 20_000, 0)]
    [InlineData(3, 20_000, 0)]
    [InlineData(2, 1_000, 20_000)] // paced: 4 000 IPIs per node at 20 000/s
    public async Task Every_ipi_crosses_between_node_processes_exactly_once_in_order(int nodes, int perSource, long rate)
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var run = new MultiNodeRun { Nodes = nodes, VcpusPerNode = 2, PerSource = perSource, Rate = rate, Timeout = TimeSpan.FromSeconds(30), Log = log.Enqueue };
        var result = await run.RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(nodes, result.Nodes.Count);
        foreach (var node in result.Nodes)
        {
            // Each node hears from every vCPU of the other nodes, perSource times each, nothing doubled, skipped or misrouted.
            Assert.Equal((long)perSource * 2 * (nodes - 1), node.Expected);
            Assert.Equal(node.Expected, node.InOrder);
            Assert.Equal(0, node.Repeated + node.Skipped + node.Misrouted);
            Assert.Equal(node.Forwarded, node.Acknowledged);
            // Engine conservation: everything posted was resolved and forwarded; every arrival went into a descriptor.
            Assert.True(node.EngineConservationHolds);
            Assert.Equal(node.Posted, node.EngineForwarded);
            Assert.Equal(node.Applied, node.RemoteDelivered + node.RemoteCoalesced);
            Assert.Equal(0, node.RemoteRejected);
            Assert.True(node.Complete, string.Join(" | ", log));
        }
        Assert.True(result.Complete);
        Assert.True(result.CrossNodeIpisPerSecond > 0);
        var table = new StringWriter();
        MultiNodeSummary.Write(table, result);
        Assert.Contains("every IPI delivered exactly once", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("in order, exactly once", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_cannot_start_is_one_sentence_and_exit_code_2()
    {
        var run = new MultiNodeRun { Nodes = 2, IpiDll = "/nonexistent/ipi.dll", Timeout = TimeSpan.FromSeconds(20) };
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(2, await run.RunAndReportAsync(output, error, TestContext.Current.CancellationToken));
        Assert.StartsWith("ipi run --nodes: node 0 exited before saying \"ready\"", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }
}
