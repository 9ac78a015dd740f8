using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using IpiEngine.Cli.Idle;
using IpiEngine.Cli.Run;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf idle</c>: what an idle engine costs (process CPU time over a window of no traffic, as % of one core) and
/// how fast it wakes for a single IPI (p50/p99). A measuring instrument for a quiet machine, not a gate.
/// </summary>
internal static class PerfIdleCommand
{
    /// <summary>Default idle window.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

    /// <summary>Default number of single IPIs for the wake latency.</summary>
    public const int DefaultWakes = 200;

    /// <summary>Default quiet time before each of them.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var duration = new Option<string?>("--duration") { Description = "Length of the idle window, e.g. 10s (default), 1s, 500ms.", HelpName = "TIME" };
        var wakes = new Option<string?>("--wakes") { Description = $"Single IPIs posted after the window for the wake latency, each followed by one reference sample without an engine (default {DefaultWakes}).", HelpName = "N" };
        var interval = new Option<string?>("--interval") { Description = $"Quiet time before each of them, long enough for the engine to go idle (default {DefaultInterval.TotalMilliseconds:0}ms).", HelpName = "TIME" };
        var wait = new Option<string?>("--wait") { Description = $"The engine's wait strategy: {string.Join(", ", EngineNames.WaitStrategies)} (default {EngineNames.Of(new EngineOptions().WaitStrategy)}).", HelpName = "STRATEGY" };
        var assist = new Option<string?>("--assist") { Description = "on (default) or off: whether a post delivers itself while the pipeline thread is parked (EngineOptions.AssistIdlePipeline).", HelpName = "on|off" };
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to FILE, or to stdout with -.", HelpName = "FILE" };
        var command = new Command("idle", "Measure an idle engine: process CPU time over a window with no traffic (% of one core, from getrusage), then the wake latency of single IPIs (post to TakePending seeing it, p50/p99).")
        {
            duration, wakes, interval, wait, assist, json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output ?? Console.Out;
            var error = parse.InvocationConfiguration.Error ?? Console.Error;
            return BadInput.ExitCode(error, () =>
            {
                var waitName = parse.GetValue(wait)?.Trim().ToLowerInvariant();
                if (waitName is not null && !EngineNames.WaitStrategies.Contains(waitName))
                {
                    throw new RunInputException($"Unknown --wait value '{parse.GetValue(wait)}': use one of {string.Join(", ", EngineNames.WaitStrategies)}.");
                }

                var assistOn = EngineNames.Assist(parse.GetValue(assist));
                var jsonPath = parse.GetValue(json);
                JsonOutput.CheckPath(jsonPath);

                var report = IdleCost.Measure(
                    EngineNames.WaitStrategy(waitName),
                    assistOn,
                    parse.GetValue(duration) is { } d ? OptionValues.Duration("--duration", d) : DefaultDuration,
                    parse.GetValue(wakes) is { } w ? (int)OptionValues.Positive("--wakes", w, 1_000_000) : DefaultWakes,
                    parse.GetValue(interval) is { } i ? OptionValues.Duration("--interval", i) : DefaultInterval);
                Write(jsonPath == "-" ? error : output, report);
                JsonOutput.Write(jsonPath, report, IdleReportJsonContext.Default.IdleReport, output);
                return report.ConservationHeld ? 0 : 1;
            });
        });
        return command;
    }

    private static void Write(TextWriter writer, IdleReport report)
    {
        var l = report.WakeLatencyNs;
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ipi perf idle: wait {report.Wait}, assist {(report.Assist ? "on" : "off")} ({report.AssistedPasses} assisted passes)"));
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  idle {report.IdleSeconds:F2} s: process CPU {report.CpuSeconds * 1000:F1} ms = {report.CpuPercentOfOneCore:F3} % of one core"));
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  wake latency over {l.Samples} single IPIs, {report.WakeIntervalSeconds * 1000:0.#} ms apart: p50 {l.P50 / 1e3:F1} µs, p99 {l.P99 / 1e3:F1} µs, max {l.Max / 1e3:F1} µs"));
        var r = report.ReferenceLatencyNs;
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  reference without an engine (the same quiet time, then a ConcurrentQueue enqueue and dequeue): p50 {r.P50 / 1e3:F1} µs, p99 {r.P99 / 1e3:F1} µs, max {r.Max / 1e3:F1} µs"));
        writer.WriteLine(report.ConservationHeld ? "  conservation held" : "  conservation VIOLATED");
    }
}

/// <summary>Source-generated JSON for <see cref="IdleReport"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IdleReport))]
internal sealed partial class IdleReportJsonContext : JsonSerializerContext;
