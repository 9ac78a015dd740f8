using IpiEngine.Apic;
using IpiEngine.Cli.Run;
using Xunit;

namespace IpiEngine.Tests.Run;

public class RunOptionsTests
{
    [Theory]
    [InlineData("--vcpus", "0")]
    [InlineData("--vcpus", "-3")]
    [InlineData("--vcpus", "lots")]
    [InlineData("--count", "0")]
    [InlineData("--count", "-5")]
    [InlineData("--duration", "0s")]
    [InlineData("--duration", "soon")]
    [InlineData("--topology", "x3apic")]
    [InlineData("--workload", "chaos")]
    [InlineData("--workload", "single=x")]
    [InlineData("--workload", "single=0,resched=0")]
    [InlineData("--workload", "bogus=4")]
    [InlineData("--threading", "many")]
    [InlineData("--wait", "nap")]
    [InlineData("--ring-capacity", "1000")]
    [InlineData("--pipeline-cpus", "a,b")]
    [InlineData("--pipeline-cpus", "4096")]
    [InlineData("--pipeline-cpus", "0,0")]
    [InlineData("--batch", "0")]
    [InlineData("--rate", "-1M")]
    [InlineData("--seed", "x")]
    [InlineData("--latency-samples", "1")]
    [InlineData("--latency-samples", "-1")]
    [InlineData("--trace", "/")]
    [InlineData("--loop", "2")]
    [InlineData("--trace", "no-such-trace")]
    [InlineData("--bogus", "1")]
    [InlineData("--json", "/no/such/folder/run.json")]
    public void Bad_input_is_one_sentence_and_exit_code_2(string option, string value)
    {
        var (code, output, error) = RunCli.Invoke("run", option, value);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal); // no stack trace
        Assert.EndsWith(".", line.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void Pipeline_cpus_are_checked_against_the_threading_mode_and_refused_beside_a_trace_on_one_engine()
    {
        int cpu = ThreadAffinity.AllowedCpus() is [var first, ..] ? first : 0;
        Assert.Contains("PerStage mode runs 3", Refusal("--threading", "per-stage", "--pipeline-cpus", $"{cpu},{cpu}"), StringComparison.Ordinal);
        Assert.Contains("Inline mode has none", Refusal("--threading", "inline", "--pipeline-cpus", $"{cpu}"), StringComparison.Ordinal);
        Assert.Contains("not to a trace replayed on one engine", Refusal("--trace", "xapic-flat-smp4", "--pipeline-cpus", $"{cpu}"), StringComparison.Ordinal);

        static string Refusal(params string[] args)
        {
            var (code, _, error) = RunCli.Invoke(["run", .. args]);
            Assert.Equal(2, code);
            return error;
        }
    }

    [Fact]
    public void A_run_with_pipeline_cpus_reports_them_in_the_table_and_the_json()
    {
        int[] allowed = ThreadAffinity.AllowedCpus();
        Assert.SkipWhen(allowed.Length == 0, "Pinning needs Linux.");
        string cpus = $"{allowed[0]},{allowed[^1]},{allowed[^1]}";
        var (code, output, error) = RunCli.Invoke("run", "--vcpus", "4", "--workload", "unicast", "--count", "20000", "--threading", "per-stage",
            "--pipeline-cpus", cpus, "--warmup", "0", "--plain", "--json", "-");

        Assert.True(code == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(new[] { allowed[0], allowed[^1], allowed[^1] }, root.GetProperty("pipelineCpus").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(20000, root.GetProperty("posted").GetInt64());
        Assert.Contains($"per-stage on CPUs {cpus}", error + output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_option_value_is_exit_code_2()
    {
        var (code, _, error) = RunCli.Invoke("run", "--vcpus");

        Assert.Equal(2, code);
        Assert.Contains("--vcpus", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--batch", "4")]
    [InlineData("--topology", "xapic-flat")]
    [InlineData("--duration", "1s")]
    public void Options_of_generated_workloads_are_refused_with_a_trace(string option, string value)
    {
        var (code, _, error) = RunCli.Invoke("run", "--trace", "xapic-flat-smp4", option, value);

        Assert.Equal(2, code);
        Assert.Contains(option, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Duration_and_count_together_are_refused()
        => Assert.Equal(2, RunCli.Invoke("run", "--duration", "1s", "--count", "100").ExitCode);

    [Fact]
    public void Defaults_are_the_documented_scenario()
    {
        var settings = Read();

        Assert.Equal(16, settings.Vcpus);
        Assert.Equal(new TopologyChoice(TopologyKind.X2ApicCluster, false), settings.Topology);
        Assert.Equal("linux-mix", settings.Mix.Name);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.Duration);
        Assert.Null(settings.Count);
        Assert.Equal("fused", settings.Threading);
        Assert.False(settings.IsTrace);
        Assert.Equal(TimeSpan.FromSeconds(1), settings.EffectiveWarmup);
    }

    [Fact]
    public void Values_are_read_in_their_spellings()
    {
        var settings = Read("--vcpus", "6", "--topology", "xapic-physical-sparse", "--workload", "single=3,tlb=1", "--duration", "300ms",
            "--threading", "per-stage", "--rate", "2.5M", "--seed", "-7", "--batch", "1", "--ring-capacity", "256", "--warmup", "0");

        Assert.Equal(6, settings.Vcpus);
        Assert.Equal(new TopologyChoice(TopologyKind.XApicPhysical, true), settings.Topology);
        Assert.Equal("xapic-physical-sparse", settings.Topology.Name);
        Assert.Equal(3, settings.Mix.WeightOf(Workload.IpiKind.CallFunctionSingle));
        Assert.Equal(1, settings.Mix.WeightOf(Workload.IpiKind.TlbShootdown));
        Assert.Equal(0, settings.Mix.WeightOf(Workload.IpiKind.Reschedule));
        Assert.Equal(TimeSpan.FromMilliseconds(300), settings.Duration);
        Assert.Equal("per-stage", settings.Threading);
        Assert.Equal(2_500_000, settings.Rate);
        Assert.Equal(-7, settings.Seed);
        Assert.Equal(1, settings.Batch);
        Assert.Equal(256, settings.RingCapacity);
        Assert.Equal(TimeSpan.Zero, settings.EffectiveWarmup);
    }

    [Fact]
    public void A_bundled_trace_is_found_by_name_with_its_reference()
    {
        var settings = Read("--trace", "xapic-flat-smp4", "--loop", "3");

        Assert.True(settings.IsTrace);
        Assert.Equal(3, settings.Loop);
        Assert.EndsWith("xapic-flat-smp4.exits.csv", settings.ExitsPath, StringComparison.Ordinal);
        Assert.EndsWith("xapic-flat-smp4.deliveries.csv", settings.CheckPath, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_latency_sample_count_is_refused_naming_zero_as_allowed()
    {
        var (code, _, error) = RunCli.Invoke("run", "--latency-samples", "-1");
        Assert.Equal(2, code);
        Assert.Contains("--latency-samples must be 0 (no log) or a whole number from 2 to 67,108,864", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_named_by_one_of_its_files_is_that_trace()
    {
        var byName = Read("--trace", "xapic-flat-smp4");
        foreach (string file in new[] { ".exits.csv", ".vcpus.csv", ".deliveries.csv" }.Select(s => byName.ExitsPath![..^".exits.csv".Length] + s))
        {
            var settings = Read("--trace", file);
            Assert.Equal(byName.ExitsPath, settings.ExitsPath);
            Assert.Equal(byName.VcpusPath, settings.VcpusPath);
            Assert.Equal(byName.CheckPath, settings.CheckPath);
            Assert.Equal("xapic-flat-smp4", settings.TraceName);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_trace_is_refused_as_a_file_with_what_to_give()
    {
        string file = Path.GetTempFileName();
        try
        {
            var (code, _, error) = RunCli.Invoke("run", "--trace", file);
            Assert.Equal(2, code);
            Assert.Contains($"--trace '{file}' is a file, not a trace", error, StringComparison.Ordinal);
            Assert.Contains("--vcpus FILE --exits FILE", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static RunSettings Read(params string[] args)
    {
        var options = new RunOptions();
        var run = new System.CommandLine.Command("run");
        foreach (var option in options.All)
        {
            run.Options.Add(option);
        }

        return options.Read(run.Parse(args));
    }
}
