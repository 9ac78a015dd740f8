using System.Text.Json;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>ipi run --nodes N</c> under the single-node run's workloads: node processes on loopback, every delivery (local,
/// forwarded, received) equal to what the seeded script resolves to, per (source, destination) pair for cross-node ones.
/// </summary>
public class NodesRunTests
{
    [Theory]
    [InlineData("2", "linux-mix", "x2apic-cluster")]
    [InlineData("3", "linux-mix", "x2apic-physical")]
    [InlineData("2", "multicast", "x2apic-physical")]
    [InlineData("3", "multicast", "x2apic-cluster")]
    public void Every_delivery_of_the_seeded_workload_arrives_exactly_once_on_every_node(string nodes, string workload, string topology)
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", nodes, "--vcpus", "6", "--workload", workload, "--topology", topology,
            "--seed", "7", "--count", "6000");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains($"{nodes} nodes on loopback, 6 vCPUs (vCPU v on node v % {nodes}), {topology}, {workload}, seed 7, 1,000 IPIs per vCPU", output, StringComparison.Ordinal);
        Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal);
        var rows = output.Split('\n');
        Assert.Equal(int.Parse(nodes, System.Globalization.CultureInfo.InvariantCulture), Cells(rows, "engine conservation").Count(c => c == "holds"));
        Assert.All(Cells(rows, "doubled / lost / misrouted"), c => Assert.Equal("0 / 0 / 0", c));
        Assert.All(Cells(rows, "local checked"), c => Assert.Equal("per pair", c));
        // Every node posted its vCPUs' share and received something from the others (6 vCPUs, all kinds reach other nodes).
        Assert.All(Cells(rows, "IPIs posted"), c => Assert.Equal((6000 / int.Parse(nodes, System.Globalization.CultureInfo.InvariantCulture)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), c));
        Assert.All(Cells(rows, "received remote"), c => Assert.NotEqual("0", c));
        Assert.Equal(Cells(rows, "expected remote"), Cells(rows, "received remote"));
    }

    [Fact]
    public void A_duration_run_with_broadcast_and_a_rate_is_exactly_once()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "broadcast", "--duration", "300ms", "--rate", "20000");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("per-stage")]
    [InlineData("inline")] // read 0 samples before: an inline engine stamped nothing by default, and the table said 0.0 us
    public void Cross_node_latency_is_measured_in_every_threading_mode(string threading)
    {
        var json = SyntheticRunTests.RunJson("--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--threading", threading, "--count", "8000");

        var latency = json.GetProperty("latencyNs");
        // The nodes stamp one post in 64 per source: 2,000 IPIs per vCPU give each source 32 stamps, most of them cross-node.
        Assert.InRange(latency.GetProperty("samples").GetInt64(), 32, 8000);
        Assert.True(latency.GetProperty("p50").GetInt64() > 0);
        Assert.All(json.GetProperty("nodes").EnumerateArray(), n => Assert.True(n.GetProperty("latencyNs").GetProperty("samples").GetInt64() > 0));

        // Each node reports its gathering thread's waits, summed at the top; an inline engine has no such thread.
        var nodes = json.GetProperty("nodes").EnumerateArray().ToArray();
        if (threading == "inline")
        {
            Assert.False(json.TryGetProperty("thinPassWaits", out _));
            Assert.All(nodes, n => Assert.False(n.TryGetProperty("thinPassWaits", out _)));
        }
        else
        {
            Assert.All(nodes, n => Assert.True(n.GetProperty("thinPassWaits").GetInt64() >= 0));
            Assert.Equal(nodes.Sum(n => n.GetProperty("thinPassWaits").GetInt64()), json.GetProperty("thinPassWaits").GetInt64());
        }
    }

    [Fact]
    public void The_json_summary_carries_the_cross_node_and_local_rates_the_table_prints()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--count", "8000", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        double seconds = root.GetProperty("durationSeconds").GetDouble();
        double cross = root.GetProperty("crossNodeIpisPerSecond").GetDouble();
        double local = root.GetProperty("localIpisPerSecond").GetDouble();
        Assert.True(cross > 0 && local > 0, root.ToString());
        Assert.Equal(root.GetProperty("received").GetInt64() / seconds, cross, tolerance: cross * 1e-9);
        Assert.Equal(root.GetProperty("ipisPerSecond").GetDouble(), cross + local, tolerance: cross * 1e-9); // every destination served is one or the other
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        Assert.Contains($"cross-node IPIs/s: {cross.ToString("N0", invariant)}; local IPIs/s: {local.ToString("N0", invariant)} over {seconds.ToString("0.000", invariant)} s", error, StringComparison.Ordinal);
        AssertNodesRanWithTheirRuntimeSettings(root);
    }

    /// <summary>
    /// Each node reports, from its own process, the runtime settings it started with: the node defaults (tiering off,
    /// socket continuations inline), or this process's own values where it sets them (node processes inherit them).
    /// </summary>
    internal static void AssertNodesRanWithTheirRuntimeSettings(JsonElement root)
    {
        Assert.All(root.GetProperty("nodes").EnumerateArray(), node =>
        {
            var settings = node.GetProperty("runtimeSettings");
            foreach (var (variable, value) in IpiEngine.Cli.Nodes.NodeProcesses.NodeDefaults)
            {
                Assert.Equal(Environment.GetEnvironmentVariable(variable) ?? value, settings.GetProperty(variable).GetString());
            }
        });
    }

    [Fact]
    public void Nodes_post_in_batches_when_asked_and_one_by_one_by_default()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "linux-mix", "--count", "8000", "--batch", "16", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("2,000 IPIs per vCPU, batch 16, fused", error, StringComparison.Ordinal); // the header line
        using (var json = JsonDocument.Parse(output))
        {
            var root = json.RootElement;
            Assert.Equal(16, root.GetProperty("batch").GetInt32());
            Assert.Equal(8000, root.GetProperty("posted").GetInt64());
            Assert.True(root.GetProperty("exactlyOnce").GetBoolean(), root.ToString());
        }

        (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--count", "400", "--json", "-");
        Assert.True(code == 0, $"exit {code}: {error}");
        using var byDefault = JsonDocument.Parse(output);
        Assert.Equal(1, byDefault.RootElement.GetProperty("batch").GetInt32());
        // Unpaced, so no pacing step either (NodePacingTests has the paced side).
        Assert.DoesNotContain("paced at", error, StringComparison.Ordinal);
        Assert.True(!byDefault.RootElement.TryGetProperty("paceStepMicroseconds", out var step) || step.ValueKind == JsonValueKind.Null, byDefault.RootElement.ToString());
    }

    [Fact]
    public void Each_node_warms_up_on_a_throw_away_vm_that_nothing_of_the_run_counts()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "linux-mix", "--count", "4000", "--warmup", "300ms", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("batch 1, fused, assist on, after a 0.3 s warm-up in each node", error, StringComparison.Ordinal); // the header line
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(0.3, root.GetProperty("warmupSeconds").GetDouble());
        // 0.3 s of unpaced posting on each node's throw-away VM is far more than the run's 4,000: any of it counted shows.
        Assert.Equal(4000, root.GetProperty("posted").GetInt64());
        Assert.True(root.GetProperty("exactlyOnce").GetBoolean(), root.ToString());
        Assert.All(root.GetProperty("nodes").EnumerateArray(), n => Assert.Equal(2000, n.GetProperty("posted").GetInt64()));

        (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--count", "400", "--warmup", "0", "--json", "-");
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.DoesNotContain("warm-up", error, StringComparison.Ordinal);
        using var none = JsonDocument.Parse(output);
        Assert.Equal(0, none.RootElement.GetProperty("warmupSeconds").GetDouble());
    }

    [Theory]
    [InlineData("--warmup", "-1s")]
    [InlineData("--nodes", "1")]
    [InlineData("--nodes", "x")]
    [InlineData("--threading", "bogus")]
    [InlineData("--local-targets", "bogus")]
    [InlineData("--loop", "2")]
    [InlineData("--vcpus", "1")]
    [InlineData("--topology", "xapic-flat")] // 16 vCPUs by default: more than a flat xAPIC holds
    [InlineData("--workload", "bogus")]
    [InlineData("--batch", "0")]
    [InlineData("--batch", "5000")]
    public void Bad_multi_node_input_is_exit_code_2(string option, string value)
    {
        var args = option == "--nodes" ? new[] { "run", option, value } : ["run", "--nodes", "2", option, value];

        var (code, output, error) = RunCli.Invoke(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains(option == "--workload" ? "workload" : option, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Count_and_duration_together_are_exit_code_2()
    {
        var (code, _, error) = RunCli.Invoke("run", "--nodes", "2", "--count", "100", "--duration", "1s");

        Assert.Equal(2, code);
        Assert.Contains("--duration or --count", error, StringComparison.Ordinal);
    }

    /// <summary>The per-node cells of the summary table's row <paramref name="label"/>.</summary>
    private static string[] Cells(string[] rows, string label)
    {
        var row = rows.Single(r => r.Contains(label, StringComparison.Ordinal));
        return [.. row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Skip(1)];
    }
}
