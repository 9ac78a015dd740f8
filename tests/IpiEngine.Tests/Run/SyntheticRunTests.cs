using System.Text.Json;
using IpiEngine.Cli.Run;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary><c>ipi run</c> end to end, in-process: short counted runs, their JSON, their summary.</summary>
public class SyntheticRunTests
{
    public static TheoryData<string, string> TopologyCases()
    {
        var data = new TheoryData<string, string>();
        var alternate = 0;
        foreach (var name in TopologyChoice.Names)
        {
            data.Add(name, alternate++ % 2 == 0 ? "fused" : "per-stage");
            data.Add(name + "-sparse", alternate++ % 2 == 0 ? "fused" : "per-stage");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TopologyCases))]
    public void Each_topology_runs_and_accounts_for_every_ipi(string topology, string threading)
    {
        var vcpus = topology.StartsWith("xapic-flat", StringComparison.Ordinal) ? "8" : "12";
        var json = RunJson("--topology", topology, "--vcpus", vcpus, "--threading", threading, "--count", "20000", "--warmup", "0");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.Equal(20000, json.GetProperty("posted").GetInt64());
        Assert.Equal(0, json.GetProperty("rejected").GetInt64());
        Assert.True(json.GetProperty("delivered").GetInt64() + json.GetProperty("coalesced").GetInt64() >= 20000);
    }

    [Theory]
    [InlineData("unicast")]
    [InlineData("multicast")]
    [InlineData("broadcast")]
    [InlineData("linux-mix")]
    [InlineData("storm")]
    [InlineData("single=1,tlb=1,broadcast=1")]
    public void Each_workload_runs_and_accounts_for_every_ipi(string workload)
    {
        var json = RunJson("--workload", workload, "--vcpus", "6", "--count", "15000", "--warmup", "0", "--batch", "3");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.Equal(15000, json.GetProperty("posted").GetInt64());
        Assert.Equal(15000, json.GetProperty("byDeliveryMode").GetProperty("FIXED").GetInt64());
        var reached = json.GetProperty("delivered").GetInt64() + json.GetProperty("coalesced").GetInt64();
        if (workload is "unicast" or "storm")
        {
            Assert.Equal(15000, reached);
        }
        else
        {
            Assert.True(reached > 15000, $"multicast reached only {reached}");
        }
    }

    [Fact]
    public void Json_carries_the_required_fields()
    {
        var json = RunJson("--count", "5000", "--warmup", "0", "--vcpus", "4");

        foreach (var field in new[] { "posted", "delivered", "coalesced", "rejected", "ipisPerSecond", "allocatedBytes", "gcCollections", "conservationHeld", "rejectedByReason", "byDeliveryMode" })
        {
            Assert.True(json.TryGetProperty(field, out _), field);
        }

        var latency = json.GetProperty("latencyNs");
        foreach (var field in new[] { "p50", "p99", "p999", "max" })
        {
            Assert.True(latency.GetProperty(field).GetInt64() > 0, field);
        }

        Assert.True(latency.GetProperty("p50").GetInt64() <= latency.GetProperty("p99").GetInt64());
        Assert.True(json.GetProperty("ipisPerSecond").GetDouble() > 0);
    }

    [Fact]
    public void The_summary_and_json_say_where_the_windows_cpu_time_went()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "threads' CPU time is read from /proc/self/task");
        var (code, output, error) = RunCli.Invoke("run", "--duration", "1s", "--warmup", "0.1s", "--vcpus", "2", "--workload", "unicast", "--batch", "1", "--latency-samples", "0", "--json", "-");
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("CPU cores: pipeline / vCPU threads / other", error, StringComparison.Ordinal);
        Assert.Contains("CPU per posted IPI: pipeline / vCPU threads", error, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(output);
        var json = document.RootElement;
        var cpu = json.GetProperty("cpu");

        var ipis = json.GetProperty("posted").GetInt64();
        var window = json.GetProperty("durationSeconds").GetDouble();
        var pipeline = cpu.GetProperty("pipelineSeconds").GetDouble();
        var vcpus = cpu.GetProperty("vcpuSeconds").GetDouble();
        Assert.True(pipeline > 0 && vcpus > 0, $"pipeline {pipeline} s, vCPUs {vcpus} s over a 1 s window of busy threads");
        Assert.True(pipeline + vcpus <= (window * Environment.ProcessorCount) + 0.05, $"{pipeline + vcpus} s of CPU in {window} s");
        Assert.Equal(0, cpu.GetProperty("deviceSeconds").GetDouble());
        Assert.Equal(ipis, cpu.GetProperty("ipis").GetInt64());
        Assert.Equal(window, cpu.GetProperty("windowSeconds").GetDouble(), 9);
        Assert.Equal(pipeline / window, cpu.GetProperty("pipelineCores").GetDouble(), 9);
        Assert.Equal(vcpus * 1e9 / ipis, cpu.GetProperty("vcpuNsPerIpi").GetDouble(), 6);
        Assert.Equal(0.01, cpu.GetProperty("resolutionSeconds").GetDouble(), 9);
    }

    [Theory]
    [InlineData("unicast")]
    [InlineData("ping-pong")]
    public void A_counted_runs_vcpu_threads_are_counted_although_they_finish_before_the_window_closes(string workload)
    {
        // Each vCPU thread ends its share on its own; the window closes after the last. Their CPU time is read at the
        // close, so a thread that had ended by then would count nothing (as before the threads waited for the stop).
        Assert.SkipUnless(OperatingSystem.IsLinux(), "threads' CPU time is read from /proc/self/task");
        string[] shape = workload == "ping-pong" ? ["--count", "300000"] : ["--count", "30000000", "--batch", "1", "--latency-samples", "0"];
        var json = RunJson([.. shape, "--warmup", "0.1s", "--vcpus", "2", "--workload", workload]);

        var cpu = json.GetProperty("cpu");
        var vcpus = cpu.GetProperty("vcpuSeconds").GetDouble();
        Assert.True(vcpus >= 0.05, $"vCPU threads: {vcpus} s of CPU for {json.GetProperty("posted").GetInt64()} IPIs in {json.GetProperty("durationSeconds").GetDouble()} s");
    }

    [Fact]
    public void Json_goes_to_a_file_and_the_summary_to_stdout()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ipi-run-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, error) = RunCli.Invoke("run", "--count", "3000", "--warmup", "0", "--vcpus", "2", "--json", path);

            Assert.Equal(0, code);
            Assert.Equal(string.Empty, error);
            Assert.Contains("conservation", output, StringComparison.Ordinal);
            Assert.DoesNotContain("\u001b[", output, StringComparison.Ordinal); // no escape codes without a terminal
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            Assert.Equal(3000, json.RootElement.GetProperty("posted").GetInt64());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_duration_run_with_single_posts_and_an_offered_rate_holds_conservation()
    {
        var json = RunJson("--duration", "0.3s", "--warmup", "0.05s", "--vcpus", "3", "--batch", "1", "--rate", "300k", "--topology", "xapic-physical");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.True(json.GetProperty("posted").GetInt64() > 0);
        Assert.True(json.GetProperty("durationSeconds").GetDouble() >= 0.3);
    }

    [Fact]
    public void Latency_samples_are_bounded_by_the_option_and_off_with_zero()
    {
        var some = RunJson("--count", "20000", "--warmup", "0", "--vcpus", "4", "--workload", "unicast", "--latency-samples", "1000");
        var none = RunJson("--count", "20000", "--warmup", "0", "--vcpus", "4", "--latency-samples", "0");

        // An even sample over the whole run: between half and all of the log once it has filled (20,000 deliveries).
        Assert.InRange(some.GetProperty("latencyNs").GetProperty("samples").GetInt64(), 400, 1000);
        Assert.Equal(0, none.GetProperty("latencyNs").GetProperty("samples").GetInt64());
        Assert.True(none.GetProperty("conservationHeld").GetBoolean());
    }

    [Theory]
    [InlineData("fused")]
    [InlineData("inline")]
    public void Posts_are_stamped_only_when_the_run_logs_latency(string threading)
    {
        var settings = new RunSettings { Vcpus = 4, Threading = threading };

        // Before, every run stamped: --latency-samples 0 still read the clock on every post (a third of a single-post run's time).
        Assert.False(SyntheticRun.Options(settings, logCapacity: 0).StampPostTime);
        Assert.True(SyntheticRun.Options(settings, logCapacity: 1024).StampPostTime);
    }

    [Fact]
    public void A_topology_that_cannot_hold_the_vcpus_is_exit_code_2()
    {
        var (code, output, error) = RunCli.Invoke("run", "--topology", "xapic-flat", "--vcpus", "9", "--count", "10");

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("xapic-flat", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Interrupting_a_run_drains_and_still_reports()
    {
        using var interruption = new RunInterruption();
        using var output = new StringWriter();
        var settings = new RunSettings { Vcpus = 4, Duration = TimeSpan.FromSeconds(30), Warmup = TimeSpan.Zero };
        using var timer = new Timer(_ => interruption.Request(), null, 200, Timeout.Infinite);

        var report = SyntheticRun.Execute(settings, RunConsole.Over(output), interruption);

        Assert.True(report.Interrupted);
        Assert.True(report.ConservationHeld);
        Assert.True(report.DurationSeconds < 30);
    }

    internal static JsonElement RunJson(params string[] args)
    {
        var (code, output, error) = RunCli.Invoke(["run", .. args, "--json", "-"]);
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("conservation", error, StringComparison.Ordinal); // the summary moved to stderr
        using var json = JsonDocument.Parse(output);
        return json.RootElement.Clone();
    }
}
