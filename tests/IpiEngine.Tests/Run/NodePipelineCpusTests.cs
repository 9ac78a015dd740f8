using System.Text.Json;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>--pipeline-cpus</c> beside <c>--nodes</c>: one list for every node or one per node separated by slashes, passed
/// to each <c>ipi node</c> process, whose engine is pinned by it and whose report says so (from the engine's own
/// options); a wrong number of lists, or a list the threading mode cannot take, is one sentence and exit code 2.
/// </summary>
public class NodePipelineCpusTests
{
    [Fact]
    public void Each_node_of_a_generated_run_pins_its_pipeline_to_its_own_list()
    {
        int[] allowed = ThreadAffinity.AllowedCpus();
        Assert.SkipWhen(allowed.Length == 0, "Pinning needs Linux.");
        int a = allowed[0], b = allowed[^1];
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "4", "--workload", "unicast", "--count", "4000",
            "--pipeline-cpus", $"{a}/{b}", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains($"fused, assist on, pipelines on CPUs {a} / {b}", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("exactlyOnce").GetBoolean());
        var nodes = json.RootElement.GetProperty("nodes").EnumerateArray().OrderBy(n => n.GetProperty("node").GetInt32()).ToArray();
        Assert.Equal(new[] { a }, Cpus(nodes[0]));
        Assert.Equal(new[] { b }, Cpus(nodes[1]));
    }

    [Fact]
    public void One_per_stage_list_pins_every_node_of_a_trace_replay_which_still_equals_its_reference()
    {
        int[] allowed = ThreadAffinity.AllowedCpus();
        Assert.SkipWhen(allowed.Length == 0, "Pinning needs Linux.");
        int[] cpus = [allowed[0], allowed[^1], allowed[^1]];
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--trace", "xapic-flat-smp4", "--threading", "per-stage",
            "--pipeline-cpus", string.Join(',', cpus), "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Contains("rows match, 0 differ", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("matchesReference").GetBoolean());
        var nodes = json.RootElement.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal(2, nodes.Length);
        Assert.All(nodes, n => Assert.Equal(cpus, Cpus(n)));
    }

    [Fact]
    public void Without_the_option_no_node_reports_pinned_cpus()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--vcpus", "2", "--workload", "unicast", "--count", "200", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.DoesNotContain("pipelines on CPUs", error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        Assert.All(json.RootElement.GetProperty("nodes").EnumerateArray(), n => Assert.False(n.TryGetProperty("pipelineCpus", out _)));
    }

    [Theory]
    [InlineData("fused", "0/0", "names 2 nodes' CPUs for 3 nodes")]
    [InlineData("fused", "0/x/0", "logical CPU numbers separated by commas")]
    [InlineData("per-stage", "0,0", "PerStage mode runs 3")]
    [InlineData("inline", "0", "Inline mode has none")]
    public void A_list_the_nodes_cannot_take_is_one_sentence_and_exit_code_2(string threading, string lists, string expected)
    {
        string cpus = lists.Replace("0", $"{Cpu()}", StringComparison.Ordinal);
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "3", "--vcpus", "3", "--threading", threading, "--pipeline-cpus", cpus);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.EndsWith(".", line.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_node_verb_takes_a_list_its_threading_fits_and_refuses_others()
    {
        int cpu = Cpu();
        using var node = new LoneNode();
        string[] run = node.Run;

        if (ThreadAffinity.AllowedCpus().Length > 0)
            Assert.Equal(0, IpiEngine.Cli.Program.Main([.. run, "--pipeline-cpus", $"{cpu}"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--pipeline-cpus", "a"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--threading", "per-stage", "--pipeline-cpus", $"{cpu},{cpu}"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--pipeline-cpus", "4096"]));
        Assert.Equal(2, IpiEngine.Cli.Program.Main([.. run, "--threading", "many", "--pipeline-cpus", $"{cpu}"]));
    }

    private static int Cpu() => ThreadAffinity.AllowedCpus() is [var first, ..] ? first : 0;

    private static int[] Cpus(JsonElement node) => [.. node.GetProperty("pipelineCpus").EnumerateArray().Select(e => e.GetInt32())];
}
