using System.Collections.Concurrent;
using System.Diagnostics;
using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// Real <c>ipi node</c> processes on loopback (issues 13 and 14): a node process stopped (SIGSTOP) mid-run stalls no
/// other node and loses nothing; topology writes posted on every node process at once are applied in one order
/// everywhere; node processes that start from different topologies refuse each other with the reason.
/// </summary>
public class NodeProcessFaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>Sends a signal to our own child process, by its id.</summary>
    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        Assert.True(kill.WaitForExit(Bound), "kill did not return");
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Local destinations served per second between the first and the last sample inside [from, to] (Stopwatch ticks).</summary>
    private static double Rate(IReadOnlyList<ProgressSample> samples, long from, long to, string what)
    {
        var inside = samples.Where(s => s.Timestamp >= from && s.Timestamp <= to).ToArray();
        Assert.True(inside.Length >= 2, $"{what}: {inside.Length} progress samples in the window, of {samples.Count}");
        return (inside[^1].Served - inside[0].Served) * (double)Stopwatch.Frequency / (inside[^1].Timestamp - inside[0].Timestamp);
    }

    [Fact]
    public async Task A_node_process_stopped_for_two_seconds_stalls_no_other_node_and_after_it_resumes_everything_arrives_once()
    {
        var log = new ConcurrentQueue<string>();
        long goAt = 0, stopAt = 0, resumeAt = 0;
        var run = new MultiNodeRun
        {
            // Paced, so the rate before the stop is a steady one (not a start-up burst) and node 2's queue stays far from full.
            Nodes = 3, Vcpus = 6, Workload = "linux-mix", IpisPerVcpu = 0, Duration = TimeSpan.FromSeconds(6), Rate = 20_000,
            ProgressInterval = TimeSpan.FromMilliseconds(100), Timeout = Bound, Log = log.Enqueue,
            WhileRunning = async (pids, ct) =>
            {
                goAt = Stopwatch.GetTimestamp();
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
                stopAt = Stopwatch.GetTimestamp();
                Signal("STOP", pids[2]);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), ct);
                }
                finally
                {
                    resumeAt = Stopwatch.GetTimestamp();
                    Signal("CONT", pids[2]);
                }
            },
        };
        var result = await run.RunAsync(TestContext.Current.CancellationToken);

        // After SIGCONT every IPI is delivered exactly once, on every node, node 2 included.
        Assert.True(result.Complete, string.Join(" | ", log.TakeLast(20)));
        foreach (var node in result.Nodes)
        {
            Assert.True(node.Complete, $"node {node.Node}: " + string.Join(" | ", log.TakeLast(20)));
            Assert.Equal(0, node.Doubled + node.Lost + node.Misrouted);
            Assert.Equal(node.ExpectedRemote, node.Received);
            Assert.True(node.EngineConservationHolds);
        }
        Assert.True(result.Nodes[2].Received > 0 && result.Nodes[0].EngineForwarded > 0);

        // On nodes 0 and 1 (same process, same clock: the progress lines carry Stopwatch ticks) the local rate during
        // the stop is at least half the rate in the second before it. A pipeline that waited on node 2 would serve
        // next to nothing locally once node 2 stopped reading: the comparison fails then, however loaded the machine.
        long second = Stopwatch.Frequency;
        Assert.True(stopAt - goAt >= second, "the stop came less than a second after go");
        for (int node = 0; node < 2; node++)
        {
            double before = Rate(result.Progress[node], stopAt - second, stopAt, $"node {node} before the stop");
            double during = Rate(result.Progress[node], stopAt, resumeAt, $"node {node} during the stop");
            Assert.True(before > 0, $"node {node} served nothing locally before the stop");
            Assert.True(during >= before / 2, $"node {node}: {during:N0} local destinations/s while node 2 was stopped, {before:N0}/s before");
        }
    }

    [Fact]
    public async Task Topology_writes_posted_on_every_node_process_at_once_are_applied_in_one_order_everywhere()
    {
        const int Nodes = 3, Vcpus = 6, IpisPerVcpu = 400, Every = 20;
        var log = new ConcurrentQueue<string>();
        var run = new MultiNodeRun
        {
            Nodes = Nodes, Vcpus = Vcpus, Topology = "xapic-cluster", Workload = "linux-mix", IpisPerVcpu = IpisPerVcpu,
            SvrWriteEvery = Every, Timeout = Bound, Log = log.Enqueue,
        };
        var result = await run.RunAsync(TestContext.Current.CancellationToken);

        const long writes = Vcpus * (IpisPerVcpu / Every); // before IPI 0, 20, ..., 380 of each vCPU
        const long writesPerNode = Vcpus / Nodes * (IpisPerVcpu / Every);
        Assert.True(result.Complete, string.Join(" | ", log.TakeLast(20))); // the IPIs around the writes: exactly once, as resolved alone
        foreach (var node in result.Nodes)
        {
            // Synchronous for the writer: when a node's last write returned, every node had applied it; and all nodes
            // end at the same epoch with the same chained digest, i.e. the same writes in the same order.
            Assert.Equal(writes, node.TopologyEpoch);
            Assert.Equal(writes, node.TopologyWrites);
            Assert.Equal(writes - writesPerNode, node.PeerTopologyWrites);
            Assert.Equal(result.Nodes[0].TopologyDigest, node.TopologyDigest);
            Assert.Equal(0, node.Doubled + node.Lost + node.Misrouted);
        }
        Assert.NotEqual(0UL, result.Nodes[0].TopologyDigest);
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07): a run cancelled while its nodes post (Ctrl+C, SIGTERM) disposed the nodes one
    /// by one, each given 5 s with its input still open before it was killed: 3 posting nodes took 15 s to go.
    /// </summary>
    [Fact]
    public async Task Disposing_nodes_in_the_middle_of_a_run_ends_them_all_within_one_grace()
    {
        var ct = TestContext.Current.CancellationToken;
        var nodes = await NodeProcesses.StartAsync(3, 6, "engine", (_, _) => ["--duration-ms", "600000", "--timeout", "60"],
            typeof(MultiNodeRun).Assembly.Location, Bound, null, ct);
        int[] ids = [.. nodes.ProcessIds];
        await nodes.ExpectFromAllAsync("ready", ct);
        await nodes.SendAllAsync("go", ct); // posting for 10 minutes: they read no input meanwhile
        var clock = Stopwatch.StartNew();
        await nodes.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"disposing 3 posting nodes took {clock.Elapsed.TotalSeconds:0.0} s (one grace is 5 s)");
        foreach (int id in ids)
            Assert.Throws<ArgumentException>(() => Process.GetProcessById(id)); // none left running
    }

    [Fact]
    public async Task Node_processes_that_start_from_different_topologies_refuse_each_other_with_the_reason()
    {
        var log = new ConcurrentQueue<string>();
        var ct = TestContext.Current.CancellationToken;
        // Node 1 is configured with sparse APIC IDs: the digests differ at epoch 0.
        await using var nodes = await NodeProcesses.StartAsync(2, 4, "engine",
            (node, _) => ["--topology", node == 1 ? "xapic-physical-sparse" : "xapic-physical", "--ipis-per-vcpu", "10", "--timeout", "60"],
            typeof(MultiNodeRun).Assembly.Location, Bound, log.Enqueue, ct);
        bool Refused(int node) => log.Any(l => l.StartsWith($"node {node}: ", StringComparison.Ordinal) && l.Contains("TopologyMismatch", StringComparison.Ordinal));
        Assert.True(await LoopbackCluster.WaitUntilAsync(() => Refused(0) && Refused(1), Bound), string.Join(" | ", log));
        Assert.Contains(log, l => l.Contains("the topologies diverged", StringComparison.Ordinal));
        await nodes.StopAsync(); // they never got every link up, so they never read "stop": stopped by process id
    }
}
