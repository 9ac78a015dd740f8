using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>ipi run --nodes N</c> with recorded traces and xAPIC workloads, as separate node processes on loopback (kept few:
/// <see cref="TraceOverNodesTests"/> has the breadth in one process). Merged deliveries in exactly the deliveries.csv
/// format, the check against the reference, the JSON summary, and bad input as one sentence with exit code 2.
/// </summary>
public class NodesTraceRunTests
{
    [Fact]
    public void A_trace_over_two_node_processes_with_kernel_served_targets_writes_the_reference_deliveries_and_json()
    {
        string folder = Directory.CreateTempSubdirectory("ipi-nodes-trace-").FullName;
        try
        {
            string deliveries = Path.Combine(folder, "out.csv"), json = Path.Combine(folder, "run.json");
            var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--trace", "xapic-phys-smp4", "--threading", "per-stage",
                "--local-targets", "kernel", "--deliveries", deliveries, "--json", json);

            Assert.True(code == 0, $"exit {code}: {error}\n{output}");
            Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal);
            Assert.Contains("rows match, 0 differ", output, StringComparison.Ordinal);
            // Exactly the deliveries.csv format: byte for byte the trace's own reference.
            Assert.Equal(File.ReadAllText(RepoFiles.Path("traces", "xapic-phys-smp4.deliveries.csv")).ReplaceLineEndings(), File.ReadAllText(deliveries).ReplaceLineEndings());
            using var report = JsonDocument.Parse(File.ReadAllText(json));
            var root = report.RootElement;
            Assert.Equal("kernel", root.GetProperty("localTargets").GetString());
            Assert.True(root.GetProperty("conservationHeld").GetBoolean());
            Assert.True(root.GetProperty("exactlyOnce").GetBoolean());
            Assert.True(root.GetProperty("matchesReference").GetBoolean());
            Assert.Equal(0, root.GetProperty("delivered").GetInt64()); // the kernels served every local target
            Assert.True(root.GetProperty("servedByHost").GetInt64() > 0);
            Assert.Equal(root.GetProperty("forwarded").GetInt64(), root.GetProperty("received").GetInt64());
            var nodes = root.GetProperty("nodes").EnumerateArray().ToArray();
            Assert.Equal(2, nodes.Length);
            Assert.Equal(root.GetProperty("posted").GetInt64(), nodes.Sum(n => n.GetProperty("posted").GetInt64()));
            Assert.All(nodes, n => Assert.Equal(0, n.GetProperty("doubled").GetInt64() + n.GetProperty("lost").GetInt64() + n.GetProperty("misrouted").GetInt64()));
            Assert.All(new[] { "ipisPerSecond", "latencyNs", "allocatedBytes", "gcCollections", "rejected", "coalesced" }, p => Assert.True(root.TryGetProperty(p, out _), p));
            NodesRunTests.AssertNodesRanWithTheirRuntimeSettings(root);

            // The table's rate line prints the JSON's two rates over its duration (one computation serves both).
            var rates = Regex.Match(output, @"cross-node IPIs/s: ([\d,]+); local IPIs/s: ([\d,]+) over ([\d.]+) s\r?$", RegexOptions.Multiline);
            Assert.True(rates.Success, output);
            Assert.Equal(root.GetProperty("crossNodeIpisPerSecond").GetDouble().ToString("N0", CultureInfo.InvariantCulture), rates.Groups[1].Value);
            Assert.Equal(root.GetProperty("localIpisPerSecond").GetDouble().ToString("N0", CultureInfo.InvariantCulture), rates.Groups[2].Value);
            Assert.Equal(root.GetProperty("durationSeconds").GetDouble().ToString("0.000", CultureInfo.InvariantCulture), rates.Groups[3].Value);
            Assert.NotEqual("0", rates.Groups[1].Value);

            // latencyNs has the single-node run's shape, VM-wide and per node; the VM's samples are the nodes' arrivals.
            var (singleCode, single, singleError) = RunCli.Invoke("run", "--trace", "xapic-phys-smp4", "--json", "-");
            Assert.True(singleCode == 0, singleError);
            using var singleReport = JsonDocument.Parse(single);
            string[] shape = [.. singleReport.RootElement.GetProperty("latencyNs").EnumerateObject().Select(p => p.Name)];
            Assert.Equal(["samples", "p50", "p99", "p999", "max"], shape);
            Assert.Equal(shape, root.GetProperty("latencyNs").EnumerateObject().Select(p => p.Name));
            Assert.All(nodes, n => Assert.Equal(shape, n.GetProperty("latencyNs").EnumerateObject().Select(p => p.Name)));
            var latency = root.GetProperty("latencyNs");
            Assert.Equal(nodes.Sum(n => n.GetProperty("latencyNs").GetProperty("samples").GetInt64()), latency.GetProperty("samples").GetInt64());
            Assert.InRange(latency.GetProperty("samples").GetInt64(), 1, root.GetProperty("received").GetInt64());
            Assert.Equal(nodes.Max(n => n.GetProperty("latencyNs").GetProperty("p99").GetInt64()), latency.GetProperty("p99").GetInt64());
            Assert.True(latency.GetProperty("p50").GetInt64() <= latency.GetProperty("p99").GetInt64()
                && latency.GetProperty("p99").GetInt64() <= latency.GetProperty("max").GetInt64(), latency.ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_trace_over_three_node_processes_that_differs_from_the_given_reference_exits_1()
    {
        string folder = Directory.CreateTempSubdirectory("ipi-nodes-trace-").FullName;
        try
        {
            // The reference with one destination moved: the replay is right, so the comparison must say it differs.
            var lines = File.ReadAllLines(RepoFiles.Path("traces", "x2apic-phys-smp8.deliveries.csv"));
            int row = Array.FindIndex(lines, l => l.EndsWith(",1", StringComparison.Ordinal));
            lines[row] = lines[row][..^1] + "2";
            string reference = Path.Combine(folder, "wrong.csv");
            File.WriteAllLines(reference, lines);

            var (code, output, error) = RunCli.Invoke("run", "--nodes", "3", "--trace", "x2apic-phys-smp8", "--check", reference);

            Assert.True(code == 1, $"exit {code}: {error}\n{output}");
            Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal); // against the sequential replay
            Assert.Contains("wrong.csv: " + (lines.Length - 2) + " rows match, 1 differ", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("2", "xapic-flat", "8", "kernel", "fused")]
    [InlineData("3", "xapic-cluster-sparse", "6", "engine", "per-stage")]
    public void An_xapic_workload_over_node_processes_is_delivered_exactly_once(string nodes, string topology, string vcpus, string local, string threading)
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", nodes, "--vcpus", vcpus, "--topology", topology, "--workload", "linux-mix",
            "--count", "3000", "--local-targets", local, "--threading", threading);

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal);
        var rows = output.Split('\n');
        Assert.All(Cells(rows, "doubled / lost / misrouted"), c => Assert.Equal("0 / 0 / 0", c));
        Assert.All(Cells(rows, "received remote"), c => Assert.NotEqual("0", c));
        Assert.All(Cells(rows, local == "kernel" ? "served by host" : "local delivered + coalesced"), c => Assert.NotEqual(local == "kernel" ? "0" : "0 + 0", c));
        if (local == "kernel")
            Assert.All(Cells(rows, "local delivered + coalesced"), c => Assert.Equal("0 + 0", c));
    }

    [Theory]
    [InlineData("No trace named 'nope'", "run", "--nodes", "2", "--trace", "nope")]
    [InlineData("more than the trace's 4 vCPUs", "run", "--nodes", "5", "--trace", "xapic-flat-smp4")]
    [InlineData("--topology applies to generated workloads only", "run", "--nodes", "2", "--trace", "xapic-flat-smp4", "--topology", "xapic-flat")]
    [InlineData("--local-targets applies to --nodes runs only", "run", "--trace", "xapic-flat-smp4", "--local-targets", "kernel")]
    [InlineData("Unknown --local-targets value 'host'", "run", "--nodes", "2", "--trace", "xapic-flat-smp4", "--local-targets", "host")]
    [InlineData("--exits needs --vcpus FILE", "run", "--nodes", "2", "--exits", "x.csv")]
    public void Bad_trace_input_over_nodes_is_one_sentence_and_exit_code_2(string sentence, params string[] args)
    {
        var (code, output, error) = RunCli.Invoke(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains(sentence, error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    private static string[] Cells(string[] rows, string label)
    {
        var row = rows.Single(r => r.Contains(label, StringComparison.Ordinal));
        return [.. row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Skip(1)];
    }
}
