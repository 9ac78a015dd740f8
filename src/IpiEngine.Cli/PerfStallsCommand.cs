using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using IpiEngine.Cli.Machine;
using IpiEngine.Cli.Run;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf stalls</c>: how much time the machine itself takes from threads that never wait, with one core busy and
/// with every core busy (<see cref="StallMeter"/>). Run it before trusting a latency tail: a p99 or p99.9 shorter than the
/// stalls it shows is not reachable on that machine. A measuring instrument, not a gate.
/// </summary>
internal static class PerfStallsCommand
{
    /// <summary>Default window per phase.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

    /// <summary>Default shortest gap counted.</summary>
    public static readonly TimeSpan DefaultThreshold = TimeSpan.FromMilliseconds(1);

    private static readonly TimeSpan MinThreshold = TimeSpan.FromMilliseconds(0.01);
    private static readonly TimeSpan MaxThreshold = TimeSpan.FromSeconds(1);

    /// <summary>The subcommand.</summary>
    public static Command Create()
    {
        var duration = new Option<string?>("--duration") { Description = "Window of each phase, e.g. 10s (default), 2s, 500ms.", HelpName = "TIME" };
        var busy = new Option<string?>("--busy") { Description = $"Busy threads in each phase, comma-separated, each from 1 to the CPUs this process may use (default: 1,{Environment.ProcessorCount}: one core busy, then every core).", HelpName = "N,N" };
        var threshold = new Option<string?>("--threshold") { Description = "Shortest gap counted, from 10us to 1s (default 1ms).", HelpName = "TIME" };
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to FILE, or to stdout with -.", HelpName = "FILE" };
        var command = new Command("stalls", "Measure the machine's own stalls: threads pinned one per CPU only read the clock, and every gap of at least the threshold between two reads is time the machine ran something else (its kernel, or a hypervisor that did not run the virtual CPU). One phase per --busy count; per phase: gaps, time stalled (% of the threads' time), the longest, gaps of 50 ms or more, and the time every thread was stalled at once.")
        {
            duration, busy, threshold, json,
        };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output ?? Console.Out;
            var error = parse.InvocationConfiguration.Error ?? Console.Error;
            return BadInput.ExitCode(error, () =>
            {
                var window = parse.GetValue(duration) is { } d ? OptionValues.Duration("--duration", d) : DefaultDuration;
                var gap = parse.GetValue(threshold) is { } t ? OptionValues.Duration("--threshold", NormalizeMicros(t)) : DefaultThreshold;
                if (gap < MinThreshold || gap > MaxThreshold)
                {
                    throw new RunInputException($"--threshold must be from 10us to 1s, not '{parse.GetValue(threshold)}'.");
                }

                var phases = BusyCounts(parse.GetValue(busy));
                var jsonPath = parse.GetValue(json);
                JsonOutput.CheckPath(jsonPath);

                var text = jsonPath == "-" ? error : output;
                text.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"ipi perf stalls: {Environment.ProcessorCount} CPUs; gaps of {gap.TotalMilliseconds:0.###} ms or more between two clock reads of a thread that does nothing else, {window.TotalSeconds:0.###} s per phase"));
                var report = StallMeter.Measure(phases, window, gap, threads => text.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  measuring with {threads} busy thread{(threads == 1 ? string.Empty : "s")} for {window.TotalSeconds:0.###} s ...")));
                Write(text, report);
                JsonOutput.Write(jsonPath, report, StallReportJsonContext.Default.StallReport, output);
                return 0;
            });
        });
        return command;
    }

    /// <summary><c>--busy</c>: whole numbers from 1 to the CPUs this process may use; default one, then all of them.</summary>
    internal static IReadOnlyList<int> BusyCounts(string? text)
    {
        var cpus = Math.Max(1, ThreadAffinity.AllowedCpus().Length is > 0 and var n ? n : Environment.ProcessorCount);
        if (text is null)
        {
            return cpus == 1 ? [1] : [1, cpus];
        }

        var counts = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1 || count > cpus)
            {
                throw new RunInputException($"--busy must list whole numbers from 1 to {cpus} (the CPUs this process may use; more threads than CPUs would measure the scheduler's time slices), not '{text}'.");
            }

            counts.Add(count);
        }

        return counts;
    }

    /// <summary>Lets <c>--threshold</c> take microseconds (<c>50us</c>) besides the durations every option takes.</summary>
    private static string NormalizeMicros(string text)
    {
        var t = text.Trim();
        return t.EndsWith("us", StringComparison.OrdinalIgnoreCase)
            && double.TryParse(t[..^2], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var micros)
            ? (micros / 1000).ToString("R", CultureInfo.InvariantCulture) + "ms"
            : t;
    }

    private static void Write(TextWriter writer, StallReport report)
    {
        foreach (var p in report.Phases)
        {
            var together = p.AllStalledMs is { } all
                ? string.Create(CultureInfo.InvariantCulture, $"; every thread stalled at once {all:0.0} ms (longest {p.AllStalledLongestMs:0.00} ms)")
                : string.Empty;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {p.BusyThreads} busy thread{(p.BusyThreads == 1 ? " " : "s")}: {p.Gaps} gaps, stalled {p.StalledMs:0.0} ms ({p.StalledPercent:0.000} % of their time), longest {p.LongestMs:0.00} ms, {p.LongStalls} of 50 ms or more{together}"));
        }

        if (!report.Pinned)
        {
            writer.WriteLine("  (threads not pinned one per CPU here: gaps include the scheduler moving them)");
        }
    }
}

/// <summary>Source-generated JSON for <see cref="StallReport"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StallReport))]
internal sealed partial class StallReportJsonContext : JsonSerializerContext;
