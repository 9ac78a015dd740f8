using System.Text.Json;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>--assist on|off</c> wherever fused threading runs: trace replays on one engine, and every node process of
/// <c>--nodes</c> (generated workloads and traces), which report their engine's setting and assisted passes. Other
/// threading modes refuse it in one sentence with exit code 2 (<c>ipi run</c> and <c>ipi node</c>).
/// </summary>
public class AssistRunTests
{
    [Theory]
    [InlineData("on")]
    [InlineData("off")]
    public void A_trace_replay_equals_its_reference_with_the_assist_on_or_off(string assist)
    {
        var (code, output, error) = RunCli.Invoke("run", "--trace", "x2apic-phys-smp8", "--assist", assist, "--loop", "2", "--json", "-");

        using var json = TraceRunTests.ParseExactReplay(code, output, error);
        var root = json.RootElement;
        Assert.Equal(assist == "on", root.GetProperty("assist").GetBoolean());
        long passes = root.GetProperty("assistedPasses").GetInt64();
        if (assist == "off")
            Assert.Equal(0, passes);
        long waits = root.GetProperty("thinPassWaits").GetInt64(); // the gathering thread's own count, beside the posters'
        Assert.Contains($"fused, wait hybrid, assist {assist} ({passes:N0} assisted passes)", error, StringComparison.Ordinal);
        Assert.Matches($@"thin passes followed by a wait \(records streaming\)\s*│\s*{waits:N0}\s*│", error);
    }

    [Fact]
    public void Every_node_of_a_generated_run_takes_the_assist_setting_and_says_so()
    {
        // Off: exactly once, and each node's engine ran without the assist (its options) and so ran no assisted pass.
        using var off = NodesJson("--assist", "off", "--vcpus", "4", "--count", "4000");
        Assert.True(off.RootElement.GetProperty("exactlyOnce").GetBoolean());
        Assert.False(off.RootElement.GetProperty("assist").GetBoolean());
        Assert.Equal(0, off.RootElement.GetProperty("assistedPasses").GetInt64());
        var offNodes = off.RootElement.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal(2, offNodes.Length);
        Assert.All(offNodes, n => Assert.False(n.GetProperty("assist").GetBoolean()));
        Assert.All(offNodes, n => Assert.Equal(0, n.GetProperty("assistedPasses").GetInt64()));

        // On and paced (a post about every 2 ms per node), so the pipeline threads park between posts: the posts
        // deliver themselves, which shows the counter is the engine's and not a constant 0.
        using var on = NodesJson("--assist", "on", "--vcpus", "4", "--count", "400", "--rate", "1000");
        Assert.True(on.RootElement.GetProperty("exactlyOnce").GetBoolean());
        Assert.True(on.RootElement.GetProperty("assist").GetBoolean());
        var onNodes = on.RootElement.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.All(onNodes, n => Assert.True(n.GetProperty("assist").GetBoolean()));
        Assert.True(onNodes.Sum(n => n.GetProperty("assistedPasses").GetInt64()) > 0, on.RootElement.ToString());
        Assert.Equal(onNodes.Sum(n => n.GetProperty("assistedPasses").GetInt64()), on.RootElement.GetProperty("assistedPasses").GetInt64());
    }

    [Fact]
    public void A_trace_over_node_processes_with_the_assist_off_equals_its_reference()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--trace", "x2apic-phys-smp8", "--assist", "off", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains("--trace x2apic-phys-smp8: vCPU v on node v % 2, fused, assist off", error, StringComparison.Ordinal);
        Assert.Contains("rows match, 0 differ", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.True(root.GetProperty("exactlyOnce").GetBoolean());
        Assert.True(root.GetProperty("matchesReference").GetBoolean());
        Assert.False(root.GetProperty("assist").GetBoolean());
        var nodes = root.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal(2, nodes.Length);
        Assert.All(nodes, n => Assert.False(n.GetProperty("assist").GetBoolean()));
        Assert.All(nodes, n => Assert.Equal(0, n.GetProperty("assistedPasses").GetInt64()));
        Assert.Contains("assist / assisted passes", error, StringComparison.Ordinal);
        Assert.Equal(nodes.Sum(n => n.GetProperty("thinPassWaits").GetInt64()), root.GetProperty("thinPassWaits").GetInt64());
        Assert.Contains("thin-pass waits", error, StringComparison.Ordinal);
    }

    /// <summary>Reproduced (review of 2026-12-07): the trace-over-nodes table printed its thin-pass row only inside the assist's block, so never per-stage.</summary>
    [Fact]
    public void A_trace_over_node_processes_per_stage_reports_its_thin_pass_waits()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--trace", "xapic-flat-smp4", "--threading", "per-stage", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        using var json = JsonDocument.Parse(output);
        Assert.All(json.RootElement.GetProperty("nodes").EnumerateArray(), n => Assert.Equal(JsonValueKind.Number, n.GetProperty("thinPassWaits").ValueKind));
        Assert.DoesNotContain("assist / assisted passes", error, StringComparison.Ordinal); // no assist per-stage
        Assert.Contains("thin-pass waits", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("per-stage", "run", "--count", "10")]
    [InlineData("inline", "run", "--trace", "xapic-flat-smp4")]
    [InlineData("per-stage", "run", "--nodes", "2", "--trace", "xapic-flat-smp4")]
    [InlineData("inline", "run", "--nodes", "2", "--count", "32")]
    public void The_assist_with_another_threading_mode_is_one_sentence_and_exit_code_2(string threading, params string[] args)
    {
        var (code, output, error) = RunCli.Invoke([.. args, "--threading", threading, "--assist", "off"]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal($"--assist applies to fused threading only (a post helps a parked pipeline thread), not to --threading {threading}.", error.Trim());
    }

    [Fact]
    public void The_node_verb_takes_the_assist_with_fused_threading_and_refuses_it_otherwise()
    {
        using var node = new LoneNode();
        string[] run = node.Run;

        Assert.Equal(0, IpiEngine.Cli.Program.Main([.. run, "--assist", "off"])); // the same node runs with fused threading
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--threading", "per-stage", "--assist", "off"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--assist", "maybe"]));
    }

    /// <summary>An <c>ipi run --nodes 2</c> generated run's JSON (the table goes to standard error), after checking it exited 0.</summary>
    private static JsonDocument NodesJson(params string[] args)
    {
        var (code, output, error) = RunCli.Invoke(["run", "--nodes", "2", "--workload", "unicast", .. args, "--json", "-"]);
        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        string assist = args[Array.IndexOf(args, "--assist") + 1];
        Assert.Contains($"fused, assist {assist}", error, StringComparison.Ordinal); // the header line
        return JsonDocument.Parse(output);
    }
}
