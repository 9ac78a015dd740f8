using System.Text.Json;
using IpiEngine.Perf.RoundTrip;
using IpiEngine.Tests.Run;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// <c>ipi perf ioapic-roundtrip</c> and its rig: level-pin round trips across two loopback engines, each one exact
/// (one assertion fired on the IOAPIC's node, one EOI back from the other), reported as percentiles.
/// </summary>
public class PerfIoApicRoundTripTests
{
    [Fact]
    public void A_short_run_reports_percentiles_and_exact_counts()
    {
        var (code, output, error) = RunCli.Invoke("perf", "ioapic-roundtrip", "--count", "200", "--warmup", "20", "--json", "-");

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("remote IRR clear: p50", error, StringComparison.Ordinal); // the human lines moved to stderr
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(200, root.GetProperty("trips").GetInt32());
        Assert.Equal(20, root.GetProperty("warmupTrips").GetInt32());
        var trip = root.GetProperty("roundTripNs");
        Assert.Equal(200, trip.GetProperty("samples").GetInt64());
        Assert.True(trip.GetProperty("p50").GetInt64() > 0);
        Assert.True(trip.GetProperty("p50").GetInt64() <= trip.GetProperty("p99").GetInt64());
        Assert.True(trip.GetProperty("p99").GetInt64() <= trip.GetProperty("p999").GetInt64());
        Assert.True(trip.GetProperty("p999").GetInt64() <= trip.GetProperty("max").GetInt64());
        Assert.True(root.GetProperty("conservationHeld").GetBoolean());
    }

    [Fact]
    public void Each_trip_ends_with_remote_irr_clear_on_the_ioapic_node_and_the_counts_exact()
    {
        using var trip = IoApicRoundTrip.Start(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 50; i++)
        {
            Assert.True(trip.RunOnce() > 0);
        }

        Assert.False(trip.IoApicNode.IoApic.RemoteIrr(IoApicRoundTrip.Pin));
        Assert.Equal(50, trip.Trips);
        Assert.True(trip.StopAndCheck());
    }

    [Theory]
    [InlineData("--count", "0", "--count must be a whole number from 1 to")]
    [InlineData("--warmup", "-1", "--warmup must be a whole number from 1 to")]
    [InlineData("--count", "many", "--count must be a whole number from 1 to")]
    public void Bad_input_is_one_sentence_and_exit_code_2(string option, string value, string start)
    {
        var (code, output, error) = RunCli.Invoke("perf", "ioapic-roundtrip", option, value);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(start, error.Trim(), StringComparison.Ordinal);
    }
}
