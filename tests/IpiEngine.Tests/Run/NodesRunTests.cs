using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary><c>ipi run --nodes N</c>: node processes on loopback, every cross-node IPI delivered exactly once.</summary>
public class NodesRunTests
{
    [Fact]
    public void Two_nodes_deliver_every_cross_node_ipi_exactly_once()
    {
        var (code, output, error) = RunCli.Invoke("run", "--nodes", "2", "--count", "4000");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("2 vCPUs each, 1,000 IPIs from each vCPU", output, StringComparison.Ordinal);
        Assert.Contains("every IPI delivered exactly once", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--nodes", "1")]
    [InlineData("--nodes", "x")]
    [InlineData("--threading", "per-stage")]
    [InlineData("--json", "-")]
    [InlineData("--vcpus", "3")]
    public void Bad_multi_node_input_is_exit_code_2(string option, string value)
    {
        var args = option == "--nodes" ? new[] { "run", option, value } : ["run", "--nodes", "2", option, value];

        var (code, output, error) = RunCli.Invoke(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains(option, error, StringComparison.Ordinal);
    }
}
