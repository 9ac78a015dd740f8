using System.Collections.Concurrent;
using System.Globalization;
using IpiEngine.Apic;
using IpiEngine.Cli.Nodes;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// Issue 13's topology-write faults as real <c>ipi node --control</c> processes on loopback: the nodes serve until
/// <c>stop</c> and take topology writes as control lines (<see cref="NodeControl"/>). A node process killed (SIGKILL)
/// between two writes and started again with the same config; the sequencer so restarted, which recovers the order; links cut (through a
/// <see cref="FaultProxy"/>) while writes are in flight.
/// </summary>
public class NodeProcessTopologyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const int Nodes = 3, Vcpus = 6; // vCPU v on node v % 3; node 0 is the sequencer
    private const ushort Svr = 0xF0;

    /// <summary>What a <c>topology</c> line says.</summary>
    private readonly record struct TopologyLine(long Epoch, ulong Digest, long Writes, long PeerWrites)
    {
        public static TopologyLine Parse(string line)
        {
            var p = line.Split(' ');
            Assert.True(p.Length == 5 && p[0] == "topology", line);
            return new TopologyLine(long.Parse(p[1], CultureInfo.InvariantCulture), ulong.Parse(p[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                long.Parse(p[3], CultureInfo.InvariantCulture), long.Parse(p[4], CultureInfo.InvariantCulture));
        }
    }

    private static async Task<TopologyLine> AskAsync(NodeProcesses nodes, int node, CancellationToken ct)
    {
        await nodes.SendAsync(node, "topology", ct);
        return TopologyLine.Parse(await nodes.ExpectLineAsync(node, "topology ", ct));
    }

    /// <summary>Writes vCPU <paramref name="vcpu"/>'s SVR on its node; returns the epoch and digest the writer reports once every node applied it.</summary>
    private static async Task<string> WriteAsync(NodeProcesses nodes, int vcpu, ulong value, CancellationToken ct)
    {
        await nodes.SendAsync(vcpu % Nodes, $"write {vcpu} 0x{Svr:x} 0x{value:x}", ct);
        return await nodes.ExpectLineAsync(vcpu % Nodes, "writ", ct); // "written ..." or "write-failed ..."
    }

    [Fact]
    public async Task A_node_process_killed_between_topology_writes_and_restarted_catches_up_and_every_node_applies_the_next_writes_in_one_order()
    {
        var log = new ConcurrentQueue<string>();
        var ct = TestContext.Current.CancellationToken;
        await using var nodes = await NodeProcesses.StartAsync(Nodes, Vcpus, "engine", (_, _) => ["--topology", "xapic-cluster", "--timeout", "60"],
            typeof(MultiNodeRun).Assembly.Location, Bound, log.Enqueue, ct);
        string Log() => string.Join(" | ", log.TakeLast(20));
        await nodes.ExpectFromAllAsync("ready", ct);

        // The order the writes are made in, from a vCPU of node 2, then (after the restart) node 1's and node 0's.
        (int Vcpu, ulong Value)[] writes = [(2, 0x1FE), (1, 0x1FD), (0, 0x1FC)];
        ulong digest = ApicTopology.Configure(Vcpus, TopologyKind.XApicCluster).Digest();
        var expected = new ulong[writes.Length + 1];
        expected[0] = digest;
        for (int i = 0; i < writes.Length; i++)
            expected[i + 1] = digest = TopologyReplication.Chain(digest, writes[i].Vcpu, Svr, writes[i].Value);

        Assert.Equal($"written 1 {expected[1]:x16}", await WriteAsync(nodes, writes[0].Vcpu, writes[0].Value, ct));
        for (int node = 0; node < Nodes; node++)
            Assert.Equal(new TopologyLine(1, expected[1], 1, node == 2 ? 0 : 1), await AskAsync(nodes, node, ct));

        // Node 1 dies between the writes (no goodbye) and comes back from the same config: new incarnation, the initial
        // topology. Its peers redial it; it says ready once both links are up, and the sequencer replays write #0 to it.
        await nodes.RestartAsync(1);
        await nodes.ExpectLineAsync(1, "ready", ct);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TopologyLine caughtUp;
        while ((caughtUp = await AskAsync(nodes, 1, ct)).Epoch == 0)
        {
            Assert.True(clock.Elapsed < Bound, "node 1 did not catch up: " + Log());
            await Task.Delay(50, ct);
        }
        Assert.Equal(new TopologyLine(1, expected[1], 1, 1), caughtUp); // write #0 applied once, as a peer's write

        // The next writes, from the restarted node itself and from the sequencer, reach every node in one order.
        Assert.Equal($"written 2 {expected[2]:x16}", await WriteAsync(nodes, writes[1].Vcpu, writes[1].Value, ct));
        Assert.Equal($"written 3 {expected[3]:x16}", await WriteAsync(nodes, writes[2].Vcpu, writes[2].Value, ct));
        // Synchronous for the writer: when "written 3" came, every node had applied all three, each once (node 1 counts
        // write #0 since its restart); each node wrote one of them, so two were its peers'.
        for (int node = 0; node < Nodes; node++)
            Assert.Equal(new TopologyLine(3, expected[3], 3, 2), await AskAsync(nodes, node, ct));
        Assert.DoesNotContain(log, l => l.Contains("TopologyMismatch", StringComparison.Ordinal));
        await nodes.StopAsync();
    }

    [Fact]
    public async Task Topology_writes_in_flight_while_a_link_between_node_processes_is_cut_are_resent_and_applied_once_everywhere_in_one_order()
    {
        var log = new ConcurrentQueue<string>();
        var ct = TestContext.Current.CancellationToken;
        var proxies = new ConcurrentDictionary<(int Dialer, int Peer), FaultProxy>();
        try
        {
            await using var nodes = await NodeProcesses.StartAsync(Nodes, Vcpus, "engine", (_, _) => ["--topology", "xapic-cluster", "--timeout", "60"],
                typeof(MultiNodeRun).Assembly.Location, Bound, log.Enqueue, ct,
                route: (dialer, peer, target) => proxies.GetOrAdd((dialer, peer), _ => new FaultProxy(target, seed: 13 + dialer * Nodes + peer)).EndPoint);
            string Log() => string.Join(" | ", log.TakeLast(20));
            await nodes.ExpectFromAllAsync("ready", ct);

            (int Vcpu, ulong Value)[] writes = [(2, 0x1FE), (0, 0x1FD), (1, 0x1FC)];
            ulong digest = ApicTopology.Configure(Vcpus, TopologyKind.XApicCluster).Digest();
            var expected = new ulong[writes.Length];
            for (int i = 0; i < writes.Length; i++)
                expected[i] = digest = TopologyReplication.Chain(digest, writes[i].Vcpu, Svr, writes[i].Value);

            // Each write meets a cut link for a second, well inside the 5 s write timeout: (a) the writer's own link to
            // the sequencer, so its request waits; (b) the sequencer's link to a node, so that node's commit waits and the
            // write waits for its confirmation; (c) a link cut just after the write is sent, wherever it then is.
            (int Dialer, int Peer, bool CutFirst)[] cuts = [(0, 2, true), (0, 1, true), (0, 1, false)];
            for (int i = 0; i < writes.Length; i++)
            {
                var proxy = proxies[(cuts[i].Dialer, cuts[i].Peer)];
                int before = proxy.Connections;
                if (cuts[i].CutFirst)
                    proxy.Block();
                await nodes.SendAsync(writes[i].Vcpu % Nodes, $"write {writes[i].Vcpu} 0x{Svr:x} 0x{writes[i].Value:x}", ct);
                if (!cuts[i].CutFirst)
                    proxy.Block();
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                proxy.Unblock();
                Assert.Equal($"written {i + 1} {expected[i]:x16}", await nodes.ExpectLineAsync(writes[i].Vcpu % Nodes, "writ", ct));
                Assert.True(await LoopbackCluster.WaitUntilAsync(() => proxy.Connections > before, Bound), $"link {cuts[i].Dialer}->{cuts[i].Peer} never reconnected: " + Log());
            }
            // Every node applied each write once, in the one order (the chained digest), whichever links were cut.
            for (int node = 0; node < Nodes; node++)
                Assert.Equal(new TopologyLine(3, expected[^1], 3, 2), await AskAsync(nodes, node, ct));
            await nodes.StopAsync();
        }
        finally
        {
            foreach (var proxy in proxies.Values)
                await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_sequencer_process_killed_between_topology_writes_and_restarted_recovers_the_order_and_every_node_applies_the_next_writes_in_it()
    {
        var log = new ConcurrentQueue<string>();
        var ct = TestContext.Current.CancellationToken;
        await using var nodes = await NodeProcesses.StartAsync(Nodes, Vcpus, "engine", (_, _) => ["--topology", "xapic-cluster", "--timeout", "60"],
            typeof(MultiNodeRun).Assembly.Location, Bound, log.Enqueue, ct);
        string Log() => string.Join(" | ", log.TakeLast(20));
        await nodes.ExpectFromAllAsync("ready", ct);

        // Writes from the sequencer's vCPU 0 and node 2's vCPU 2; after the sequencer's restart, node 1's and node 0's.
        (int Vcpu, ulong Value)[] writes = [(0, 0x1FE), (2, 0x1FD), (1, 0x1FC), (3, 0x1FB)];
        ulong digest = ApicTopology.Configure(Vcpus, TopologyKind.XApicCluster).Digest();
        var expected = new ulong[writes.Length + 1];
        expected[0] = digest;
        for (int i = 0; i < writes.Length; i++)
            expected[i + 1] = digest = TopologyReplication.Chain(digest, writes[i].Vcpu, Svr, writes[i].Value);
        for (int i = 0; i < 2; i++)
            Assert.Equal($"written {i + 1} {expected[i + 1]:x16}", await WriteAsync(nodes, writes[i].Vcpu, writes[i].Value, ct));

        // The sequencer dies (SIGKILL: no goodbye) with its log, and comes back from the same config: new incarnation,
        // initial topology, empty log. It orders nothing until every node's State came and the nodes replayed the two
        // writes to it; then it applies them and orders the next writes after them.
        await nodes.RestartAsync(0);
        await nodes.ExpectLineAsync(0, "ready", ct);
        Assert.Equal($"written 3 {expected[3]:x16}", await WriteAsync(nodes, writes[2].Vcpu, writes[2].Value, ct));
        Assert.Equal($"written 4 {expected[4]:x16}", await WriteAsync(nodes, writes[3].Vcpu, writes[3].Value, ct));
        // Synchronous for the writer: when "written 4" came, every node had applied all four, in one order (the chained
        // digest), each once. Each node counts as its own only what its running process posted: one write each, since node
        // 0's write #0 came from the incarnation that was killed.
        for (int node = 0; node < Nodes; node++)
            Assert.Equal(new TopologyLine(4, expected[4], 4, 3), await AskAsync(nodes, node, ct));
        Assert.True(log.Any(l => l.Contains("recovered the VM's order of 2 topology writes", StringComparison.Ordinal)), Log());
        Assert.DoesNotContain(log, l => l.Contains("TopologyMismatch", StringComparison.Ordinal));
        await nodes.StopAsync();
    }
}
