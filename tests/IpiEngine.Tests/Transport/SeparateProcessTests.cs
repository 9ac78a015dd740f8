using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>Real <c>ipi node</c> processes on loopback, started and stopped by <see cref="MultiNodeRun"/>.</summary>
public class SeparateProcessTests
{
    [Theory]
    [InlineData(2, "unicast", 2_000, 0, 1)]
    [InlineData(3, "linux-mix", 2_000, 0, 1)]
    [InlineData(2, "storm", 500, 20_000, 1)] // paced: 2 000 IPIs per node at 20 000/s
    [InlineData(3, "linux-mix", 2_000, 0, 64)] // each vCPU's IPIs in PostBatch calls of 64 (--batch)
    [InlineData(2, "storm", 500, 20_000, 7)] // paced, in batches that do not divide the count
    public async Task Every_delivery_crosses_between_node_processes_exactly_once(int nodes, string workload, long ipisPerVcpu, long rate, int batch)
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var run = new MultiNodeRun
        {
            Nodes = nodes, Vcpus = 2 * nodes, Workload = workload, IpisPerVcpu = ipisPerVcpu, Rate = rate, Batch = batch,
            Timeout = TimeSpan.FromSeconds(30), Log = log.Enqueue,
        };
        var result = await run.RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(nodes, result.Nodes.Count);
        foreach (var node in result.Nodes)
        {
            // Each node's vCPUs posted their share; the script, resolved on its own, says what each node must get.
            Assert.Equal(ipisPerVcpu * 2, node.Posted);
            Assert.Equal(node.Posted, node.Resolved + node.Rejected);
            Assert.Equal(node.ExpectedLocal, node.LocalDelivered + node.LocalCoalesced);
            Assert.Equal(node.ExpectedForwarded, node.EngineForwarded);
            Assert.Equal(node.ExpectedRemote, node.Received);
            Assert.Equal(0, node.Doubled + node.Lost + node.Misrouted);
            Assert.True(node.LocalPairsChecked);
            Assert.Equal(node.Forwarded, node.Acknowledged);
            Assert.True(node.EngineConservationHolds);
            Assert.Equal(node.Received, node.RemoteDelivered + node.RemoteCoalesced);
            Assert.Equal(0, node.RemoteRejected);
            Assert.True(node.Complete, string.Join(" | ", log));
            // Link health in the node's JSON: one entry per peer, up at the end, nothing refused under policy wait.
            Assert.Equal(Enumerable.Range(0, nodes).Where(n => n != node.Node), node.Links!.Select(l => l.Peer).Order());
            Assert.All(node.Links!, l => Assert.True(l.State is "connected" or "back-pressured" && l.ConnectedSeconds > 0 && l.Unreachable == 0 && l.Abandoned == 0, l.ToString()));
        }
        // What one node forwards, the others receive.
        Assert.Equal(result.Nodes.Sum(n => n.EngineForwarded), result.Nodes.Sum(n => n.Received));
        Assert.True(result.Complete);
        Assert.True(result.CrossNodeIpisPerSecond > 0);
        var table = new StringWriter();
        MultiNodeSummary.Write(table, result);
        Assert.Contains("every IPI delivered exactly once", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("doubled / lost / misrouted", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_cannot_start_is_one_sentence_and_exit_code_2()
    {
        var run = new MultiNodeRun { Nodes = 2, IpiDll = "/nonexistent/ipi.dll", Timeout = TimeSpan.FromSeconds(20) };
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(2, await run.RunAndReportAsync(output, error, TestContext.Current.CancellationToken));
        Assert.StartsWith("ipi run --nodes: node 0 exited before saying \"ready\"", error.ToString(), StringComparison.Ordinal);
        // The sentence says why (the exit code and the host's own words after it), with no log attached to the run.
        string[] why = error.ToString().Split("(exit code 1): ", 2);
        Assert.True(why.Length == 2 && why[1].Trim().Length > 0, error.ToString());
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task A_node_that_refuses_its_arguments_is_named_with_its_own_sentence()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var nodes = await NodeProcesses.StartAsync(2, 4, "engine", (node, _) => node == 1 ? ["--batch", "0"] : ["--timeout", "60"],
            typeof(MultiNodeRun).Assembly.Location, TimeSpan.FromSeconds(60), log: null, ct);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => nodes.ExpectLineAsync(1, "ready", ct));
        Assert.StartsWith("node 1 exited before saying \"ready\" (exit code 2): --batch must be between 1 and ", refused.Message, StringComparison.Ordinal);
        await nodes.StopAsync();
    }
}
