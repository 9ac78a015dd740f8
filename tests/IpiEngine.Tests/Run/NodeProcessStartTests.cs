using IpiEngine.Cli.Nodes;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// How <c>ipi run --nodes</c> starts a node process: <c>ipi.dll</c> and the arguments in order, the streams redirected,
/// and tiered compilation off (the runtime's re-compilation would share the measured window's cores) unless the caller
/// set it.
/// </summary>
public class NodeProcessStartTests
{
    [Fact]
    public void A_node_starts_with_tiered_compilation_off_and_its_arguments_in_order()
    {
        var info = NodeProcesses.StartInfo("/x/ipi.dll", ["node", "--node", "1"], callersTieredCompilation: null);

        Assert.Equal(["/x/ipi.dll", "node", "--node", "1"], info.ArgumentList);
        Assert.Equal("0", info.Environment[NodeProcesses.TieredCompilationVariable]);
        Assert.True(info.RedirectStandardInput && info.RedirectStandardOutput && info.RedirectStandardError);
        Assert.False(info.UseShellExecute);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("0")]
    public void A_callers_own_tiered_compilation_setting_is_kept(string setting)
    {
        var info = NodeProcesses.StartInfo("/x/ipi.dll", ["node"], callersTieredCompilation: setting);

        Assert.Equal(setting, info.Environment[NodeProcesses.TieredCompilationVariable]);
    }
}
