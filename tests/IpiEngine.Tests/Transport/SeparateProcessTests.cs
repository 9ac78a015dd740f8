using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Real <c>ipi node</c> processes on loopback, started and stopped by <see cref="MultiNodeRun"/>.</summary>
public class SeparateProcessTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Every_ipi_crosses_between_node_processes_exactly_once_in_order(int nodes)
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var run = new MultiNodeRun { Nodes = nodes, VcpusPerNode = 2, PerSource = 20_000, Timeout = TimeSpan.FromSeconds(30), Log = log.Enqueue };
        var result = await run.RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(nodes, result.Nodes.Count);
        foreach (var node in result.Nodes)
        {
            // Each node hears from every vCPU of the other nodes, 20 000 times each, nothing doubled, skipped or misrouted.
            Assert.Equal(20_000L * 2 * (nodes - 1), node.Expected);
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
    }
}
