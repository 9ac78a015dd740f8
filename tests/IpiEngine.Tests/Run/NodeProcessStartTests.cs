using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// How <c>ipi run --nodes</c> starts a node process: <c>ipi.dll</c> and the arguments in order, the streams redirected,
/// tiered compilation off (the runtime's re-compilation would share the measured window's cores) and socket continuations
/// inline (one thread wake-up less per arriving frame), each unless the caller set it.
/// </summary>
public class NodeProcessStartTests
{
    [Fact]
    public void A_node_starts_with_tiered_compilation_off_inline_socket_completions_and_its_arguments_in_order()
    {
        var info = NodeProcesses.StartInfo("/x/ipi.dll", ["node", "--node", "1"], _ => null);

        Assert.Equal(["/x/ipi.dll", "node", "--node", "1"], info.ArgumentList);
        Assert.Equal("0", info.Environment[NodeProcesses.TieredCompilationVariable]);
        Assert.Equal("1", info.Environment[NodeProcesses.InlineSocketCompletionsVariable]);
        Assert.True(info.RedirectStandardInput && info.RedirectStandardOutput && info.RedirectStandardError);
        Assert.False(info.UseShellExecute);
    }

    [Theory]
    [InlineData(NodeProcesses.TieredCompilationVariable, "1")]
    [InlineData(NodeProcesses.TieredCompilationVariable, "0")]
    [InlineData(NodeProcesses.InlineSocketCompletionsVariable, "0")]
    [InlineData(NodeProcesses.InlineSocketCompletionsVariable, "1")]
    public void A_callers_own_setting_is_kept_and_the_other_default_still_applies(string variable, string setting)
    {
        var info = NodeProcesses.StartInfo("/x/ipi.dll", ["node"], name => name == variable ? setting : null);

        Assert.Equal(setting, info.Environment[variable]);
        foreach (var (other, value) in NodeProcesses.NodeDefaults)
        {
            if (other != variable)
            {
                Assert.Equal(value, info.Environment[other]);
            }
        }
    }
}
