using System.Text.Json;
using IpiEngine.Tests.Run;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary><c>ipi perf idle</c>: a short run reports an idle window, a CPU share and wake latencies that make sense.</summary>
public class PerfIdleTests
{
    [Fact]
    public void A_one_second_idle_run_reports_sane_fields()
    {
        var (code, output, error) = RunCli.Invoke("perf", "idle", "--duration", "1s", "--wakes", "10", "--interval", "5ms", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("% of one core", error, StringComparison.Ordinal); // the human lines moved to stderr
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal("hybrid", root.GetProperty("wait").GetString()); // the engine's default
        Assert.InRange(root.GetProperty("idleSeconds").GetDouble(), 0.99, 60);
        var cpu = root.GetProperty("cpuSeconds").GetDouble();
        Assert.InRange(cpu, 0, 60 * Environment.ProcessorCount); // the whole test process's threads count too
        Assert.Equal(100 * cpu / root.GetProperty("idleSeconds").GetDouble(), root.GetProperty("cpuPercentOfOneCore").GetDouble(), tolerance: 1e-9);
        var wake = root.GetProperty("wakeLatencyNs");
        Assert.Equal(10, wake.GetProperty("samples").GetInt64());
        Assert.True(wake.GetProperty("p50").GetInt64() > 0);
        Assert.True(wake.GetProperty("p50").GetInt64() <= wake.GetProperty("p99").GetInt64());
        Assert.True(wake.GetProperty("p99").GetInt64() <= wake.GetProperty("max").GetInt64());
        var reference = root.GetProperty("referenceLatencyNs"); // the machine's own noise, measured beside each wake
        Assert.Equal(10, reference.GetProperty("samples").GetInt64());
        Assert.True(reference.GetProperty("p50").GetInt64() > 0);
        Assert.True(reference.GetProperty("p99").GetInt64() <= reference.GetProperty("max").GetInt64());
        Assert.Contains("reference without an engine", error, StringComparison.Ordinal);
        Assert.True(root.GetProperty("conservationHeld").GetBoolean());
    }

    [Theory]
    [InlineData("--wait", "nope", "Unknown --wait value 'nope': use one of")]
    [InlineData("--duration", "0", "--duration must be a positive time")]
    [InlineData("--wakes", "0", "--wakes must be a whole number from 1 to 1,000,000, not '0'.")]
    [InlineData("--interval", "soon", "--interval must be a positive time")]
    public void Bad_input_is_one_sentence_and_exit_code_2(string option, string value, string start)
    {
        var (code, output, error) = RunCli.Invoke("perf", "idle", option, value);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(start, error.Trim(), StringComparison.Ordinal);
    }
}
