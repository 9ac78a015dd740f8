using IpiEngine.Cli.Run;
using Xunit;

namespace IpiEngine.Tests.Run;

public class RuntimeJitTests
{
    [Theory]
    [InlineData(null, null, null, null, true)]       // the runtime's defaults
    [InlineData(null, null, "true", null, true)]     // the CLI's runtime config
    [InlineData("0", null, "true", null, false)]     // the variable wins over the config
    [InlineData("1", null, "false", null, true)]
    [InlineData(null, null, "false", null, false)]
    [InlineData(null, "0", "true", null, false)]     // no tiering, no dynamic PGO
    [InlineData(null, null, "true", "false", false)]
    [InlineData(" 0 ", null, null, null, false)]
    public void Dynamic_pgo_is_on_unless_a_variable_or_the_runtime_config_turns_pgo_or_tiering_off(string? pgoVariable, string? tieringVariable, string? pgoConfig, string? tieringConfig, bool on)
    {
        var read = RuntimeJit.Read(
            name => name == RuntimeJit.TieredPgoName ? pgoVariable : name == RuntimeJit.TieredCompilationName ? tieringVariable : null,
            name => name == "System.Runtime.TieredPGO" ? pgoConfig : name == "System.Runtime.TieredCompilation" ? tieringConfig : null);

        Assert.Equal(on, read.DynamicPgo);
        Assert.Equal(pgoVariable, read.TieredPgoVariable);
        Assert.Equal(tieringVariable, read.TieredCompilationVariable);
        Assert.StartsWith(on ? "on (" : "off (", read.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_summary_names_the_variable_that_decided()
    {
        Assert.Equal("off (DOTNET_TieredPGO=0)", new RuntimeJit(false, "0", null).Describe());
        Assert.Equal("off (DOTNET_TieredCompilation=0)", new RuntimeJit(false, null, "0").Describe());
        Assert.Equal("on (the runtime config)", new RuntimeJit(true, null, null).Describe());
    }

    [Fact]
    public void A_run_reports_its_processes_setting_in_the_summary_and_json()
    {
        var (code, output, error) = RunCli.Invoke("run", "--count", "2000", "--warmup", "0", "--vcpus", "2", "--json", "-");

        Assert.Equal(0, code);
        Assert.Contains($"runtime's dynamic PGO", error, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(RuntimeJit.Current.DynamicPgo, json.RootElement.GetProperty("runtime").GetProperty("dynamicPgo").GetBoolean());
    }
}
