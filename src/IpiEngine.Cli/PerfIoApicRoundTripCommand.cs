using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using IpiEngine.Cli.Run;
using IpiEngine.Perf.RoundTrip;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf ioapic-roundtrip</c>: a level-triggered IOAPIC pin's round trip across two engines on loopback (assert on
/// the IOAPIC's node, delivered on the other, EOI back, remote IRR cleared), p50/p99/p99.9 over many trips
/// (<see cref="IoApicRoundTrip"/>). A measuring instrument for a quiet machine, not a gate.
/// </summary>
internal static class PerfIoApicRoundTripCommand
{
    /// <summary>Default number of measured round trips.</summary>
    public const int DefaultTrips = 20_000;

    /// <summary>Default number of unmeasured round trips before them (JIT tiering, first connections).</summary>
    public const int DefaultWarmupTrips = 2_000;

    /// <summary>How long one step of a trip may take before the command reports the nodes stuck.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var count = new Option<string?>("--count") { Description = $"Round trips measured (default {DefaultTrips}).", HelpName = "N" };
        var warmup = new Option<string?>("--warmup") { Description = $"Round trips before them, not measured (default {DefaultWarmupTrips}; 0 to skip).", HelpName = "N" };
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to FILE, or to stdout with -.", HelpName = "FILE" };
        var command = new Command("ioapic-roundtrip", "Measure a level-triggered IOAPIC pin's round trip across two engines on loopback: assert on node 0 (the IOAPIC's), delivered to a vCPU on node 1, its EOI back to node 0, remote IRR cleared (p50/p99/p99.9).")
        {
            count, warmup, json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output ?? Console.Out;
            var error = parse.InvocationConfiguration.Error ?? Console.Error;
            return BadInput.ExitCode(error, () =>
            {
                try
                {
                    var jsonPath = parse.GetValue(json);
                    JsonOutput.CheckPath(jsonPath);

                    var trips = parse.GetValue(count) is { } c ? (int)OptionValues.Positive("--count", c, 100_000_000) : DefaultTrips;
                    var warmupTrips = parse.GetValue(warmup) is { } w ? (w.Trim() == "0" ? 0 : (int)OptionValues.Positive("--warmup", w, 100_000_000)) : DefaultWarmupTrips;
                    var report = Measure(trips, warmupTrips);
                    Write(jsonPath == "-" ? error : output, report);
                    JsonOutput.Write(jsonPath, report, IoApicRoundTripReportJsonContext.Default.IoApicRoundTripReport, output);
                    return report.ConservationHeld ? 0 : 1;
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    error.WriteLine(e.Message); // a step timed out, or the round trip was not exact: a failed measurement, not a crash
                    return 1;
                }
            });
        });
        return command;
    }

    /// <summary>Runs the warm-up and the measured trips on one pair of nodes.</summary>
    internal static IoApicRoundTripReport Measure(int trips, int warmupTrips)
    {
        using var pair = IoApicRoundTrip.Start(Patience);
        for (var i = 0; i < warmupTrips; i++)
        {
            pair.RunOnce();
        }

        var histogram = new LatencyHistogram();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < trips; i++)
        {
            histogram.RecordElapsedTicks(pair.RunOnce());
        }

        var seconds = clock.Elapsed.TotalSeconds;
        return new IoApicRoundTripReport(trips, warmupTrips, seconds, trips / Math.Max(seconds, 1e-9), histogram.Summarize(), pair.StopAndCheck());
    }

    private static void Write(TextWriter writer, IoApicRoundTripReport report)
    {
        var l = report.RoundTripNs;
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ipi perf ioapic-roundtrip: {report.Trips} level-pin round trips over a loopback link (after {report.WarmupTrips} unmeasured) in {report.Seconds:F2} s, {report.TripsPerSecond:F0}/s"));
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  assert on node 0 -> delivered on node 1 -> EOI back -> remote IRR clear: p50 {l.P50 / 1e3:F1} µs, p99 {l.P99 / 1e3:F1} µs, p99.9 {l.P999 / 1e3:F1} µs, max {l.Max / 1e3:F1} µs"));
        writer.WriteLine(report.ConservationHeld ? "  conservation held (one assertion fired and one EOI returned per trip)" : "  conservation VIOLATED");
    }
}

/// <summary>What <c>ipi perf ioapic-roundtrip</c> measured (JSON, camelCase).</summary>
/// <param name="Trips">Round trips measured.</param>
/// <param name="WarmupTrips">Round trips before them.</param>
/// <param name="Seconds">Length of the measured trips, back to back.</param>
/// <param name="TripsPerSecond">Trips per second (one at a time).</param>
/// <param name="RoundTripNs">Round trip percentiles in nanoseconds.</param>
/// <param name="ConservationHeld">Both engines conserved; node 0 fired one assertion per trip and node 1 forwarded one EOI per trip, nothing rejected.</param>
internal sealed record IoApicRoundTripReport(int Trips, int WarmupTrips, double Seconds, double TripsPerSecond, LatencySummary RoundTripNs, bool ConservationHeld);

/// <summary>Source-generated JSON for <see cref="IoApicRoundTripReport"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IoApicRoundTripReport))]
internal sealed partial class IoApicRoundTripReportJsonContext : JsonSerializerContext;
