using System.Text.Json;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary><c>ipi run --trace</c>: the bundled traces through the full engine equal their references in every threading mode.</summary>
public class TraceRunTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var trace in new[] { "xapic-flat-smp4", "xapic-phys-smp4", "x2apic-cluster-smp4", "x2apic-phys-smp8" })
        {
            data.Add(trace, "fused");
            data.Add(trace, "per-stage");
            data.Add(trace, "inline"); // the replay's poster threads resolve and deliver themselves, serialised
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_bundled_trace_through_the_engine_equals_its_reference(string trace, string threading)
    {
        var (code, output, error) = RunCli.Invoke("run", "--trace", trace, "--threading", threading, "--ring-capacity", "16", "--json", "-");

        using var json = ParseExactReplay(code, output, error);
        Assert.Equal("trace", json.RootElement.GetProperty("mode").GetString());
        Assert.Contains(" 0 differ", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Reproduced (review of 2026-12-07, helper-49): each replay builds its engine on the display's thread, and the
    /// display's own allocations were subtracted from the run's, so the engines (their delivery logs, 40 B a delivery)
    /// were left out of "bytes allocated (incl. an engine per replay)" and counted as the display's.
    /// </summary>
    [Fact]
    public void A_looped_replay_counts_each_replays_engine_in_its_allocations()
    {
        long deliveries = File.ReadLines(RepoFiles.Path("traces", "xapic-flat-smp4.deliveries.csv")).LongCount() - 1;

        var (code, output, error) = RunCli.Invoke("run", "--trace", "xapic-flat-smp4", "--loop", "2", "--json", "-");

        using var json = ParseExactReplay(code, output, error);
        long allocated = json.RootElement.GetProperty("allocatedBytes").GetInt64();
        long display = json.RootElement.GetProperty("displayAllocatedBytes").GetInt64();
        Assert.True(allocated >= 2 * 40 * deliveries, $"{allocated:N0} B for two replays of {deliveries:N0} deliveries (display {display:N0} B)");
        Assert.True(display < allocated, $"display {display:N0} B, run {allocated:N0} B");
    }

    [Fact]
    public void Deliveries_are_written_in_the_reference_format_and_loops_add_up()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ipi-run-{Guid.NewGuid():N}.csv");
        try
        {
            var (code, output, error) = RunCli.Invoke("run", "--trace", "x2apic-phys-smp8", "--loop", "2", "--deliveries", path, "--json", "-");

            Assert.True(code == 0, $"exit {code}: {error}");
            Assert.Equal(File.ReadAllLines(RepoFiles.Path("traces", "x2apic-phys-smp8.deliveries.csv")), File.ReadAllLines(path));
            using var json = JsonDocument.Parse(output);
            Assert.Equal(2, json.RootElement.GetProperty("loops").GetInt32());
            Assert.Equal(2 * 5195, json.RootElement.GetProperty("posted").GetInt64());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_differing_reference_is_exit_code_1()
    {
        var reference = Path.Combine(Path.GetTempPath(), $"ipi-ref-{Guid.NewGuid():N}.csv");
        try
        {
            var lines = File.ReadAllLines(RepoFiles.Path("traces", "x2apic-phys-smp8.deliveries.csv"));
            lines[10] = lines[10][..lines[10].LastIndexOf(',')] + ",7";
            File.WriteAllLines(reference, lines);

            var (code, output, _) = RunCli.Invoke("run", "--trace", "x2apic-phys-smp8", "--check", reference);

            Assert.Equal(1, code);
            Assert.Contains("1 differ", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(reference);
        }
    }

    [Fact]
    public void An_unreadable_trace_is_one_sentence_and_exit_code_2()
    {
        var exits = Path.Combine(Path.GetTempPath(), $"ipi-bad-{Guid.NewGuid():N}.exits.csv");
        try
        {
            File.WriteAllText(exits, "seq,src_vcpu,reg,value,dest_id\n0,0,0x300,zz,0\n");

            var (code, output, error) = RunCli.Invoke("run", "--vcpus", RepoFiles.Path("traces", "xapic-flat-smp4.vcpus.csv"), "--exits", exits);

            Assert.Equal(2, code);
            Assert.Equal(string.Empty, output);
            Assert.Contains(":2", error, StringComparison.Ordinal); // file and line
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(exits);
        }
    }

    /// <summary>A trace replay's JSON after exit 0, checked to equal its reference and the sequential replay with conservation held.</summary>
    internal static JsonDocument ParseExactReplay(int code, string output, string error)
    {
        Assert.True(code == 0, $"exit {code}: {error}");
        var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.True(root.GetProperty("matchesReference").GetBoolean());
        Assert.True(root.GetProperty("matchesSequentialReplay").GetBoolean());
        Assert.True(root.GetProperty("conservationHeld").GetBoolean());
        return json;
    }
}
