using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using IpiEngine.Cli.Run;
using IpiEngine.Trace;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi replay</c>: applies a trace in order through the resolver alone and writes one row per firing write in the
/// exact <c>deliveries.csv</c> format; <c>--check</c> compares with a reference. Exit codes: 0 done (and identical),
/// 1 rows differ from the reference, 2 bad input (one sentence naming the file and line).
/// </summary>
internal static class ReplayCommand
{
    /// <summary>The trace replayed when no input is named.</summary>
    public const string DefaultTrace = "xapic-flat-smp4";

    private const int ShownDifferences = 10;

    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var vcpus = new Option<string?>("--vcpus") { Description = "vcpus.csv: each vCPU's APIC ID at reset", HelpName = "V.csv" };
        var exits = new Option<string?>("--exits") { Description = "exits.csv: the register writes to apply in order", HelpName = "E.csv" };
        var deliveries = new Option<string?>("--deliveries") { Description = "write the produced rows here ('-' for stdout)", HelpName = "OUT.csv" };
        var check = new Option<string?>("--check") { Description = "compare with this reference deliveries.csv; exit 1 on any difference", HelpName = "REF.csv" };
        var trace = new Option<string?>("--trace")
        {
            Description = $"a bundled trace (traces/NAME.*.csv), a path prefix P (P.vcpus.csv, P.exits.csv) or one of those files; checked against its deliveries.csv, when there is one, unless --check is given; default {DefaultTrace}",
            HelpName = "NAME",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var json = new Option<string?>("--json") { Description = "also write the summary (and the check's result) as JSON to FILE, or to stdout with -", HelpName = "FILE" };
        var command = new Command("replay", "Replay an IPI trace through the APIC resolver and write or check its deliveries.")
        {
            vcpus, exits, deliveries, check, trace, json,
        };
        command.SetAction(parseResult =>
        {
            var request = new ReplayRequest(
                parseResult.GetValue(vcpus),
                parseResult.GetValue(exits),
                parseResult.GetValue(deliveries),
                parseResult.GetValue(check),
                parseResult.GetResult(trace) is not null,
                parseResult.GetValue(trace),
                parseResult.GetValue(json));
            return Run(request, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    private static int Run(ReplayRequest request, TextWriter output, TextWriter error)
    {
        if (!TryResolveInputs(request, out string vcpusPath, out string exitsPath, out string? checkPath, out string? problem))
        {
            error.WriteLine(problem);
            return 2;
        }

        if (request.Json is "-" && request.Deliveries is "-")
        {
            error.WriteLine("--json - and --deliveries - would both write to stdout: send one of them to a file.");
            return 2;
        }

        try
        {
            JsonOutput.CheckPath(request.Json); // before the work: a path that cannot be written is refused first
        }
        catch (RunInputException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }

        try
        {
            uint[] ids = TraceReader.ReadVcpus(vcpusPath);
            ExitRecord[] records = TraceReader.ReadExits(exitsPath, ids.Length);
            List<DeliveryRow>? reference = checkPath is null ? null : TraceReader.ReadDeliveries(checkPath);

            long started = Stopwatch.GetTimestamp();
            ReplayResult result = SequentialReplay.Run(ids, records);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(started);

            if (request.Deliveries is not null && !TryWriteDeliveries(request.Deliveries, result.Rows, output, error))
            {
                return 2;
            }

            ReplaySummary.Write(error, result.Counters, elapsed);
            DeliveryComparison? comparison = reference is null ? null : DeliveryComparison.Compare(reference, result.Rows, ShownDifferences);
            if (comparison is not null)
                Report(comparison, checkPath!, request.Deliveries == "-" || request.Json == "-" ? error : output);
            try
            {
                JsonOutput.Write(request.Json, ReplayReport.From(vcpusPath, exitsPath, result.Counters, elapsed, checkPath, comparison), ReplayReportJsonContext.Default.ReplayReport, output);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{request.Json}: cannot write the JSON summary ({e.Message}).");
                return 2; // not 1: that says the rows differ
            }

            return comparison is null || comparison.Identical ? 0 : 1;
        }
        catch (TraceFormatException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
    }

    private static bool TryResolveInputs(ReplayRequest request, out string vcpus, out string exits, out string? check, out string? problem)
    {
        vcpus = exits = string.Empty;
        check = request.Check;
        problem = null;
        bool explicitFiles = request.Vcpus is not null || request.Exits is not null;
        if (request.TraceGiven && explicitFiles)
        {
            problem = "Give either --trace NAME or --vcpus with --exits, not both.";
            return false;
        }

        if (explicitFiles)
        {
            if (request.Vcpus is null || request.Exits is null)
            {
                problem = "--vcpus and --exits go together: give both files (or --trace NAME for a bundled trace).";
                return false;
            }

            vcpus = request.Vcpus;
            exits = request.Exits;
            return true;
        }

        string name = request.TraceGiven ? request.Trace ?? string.Empty : DefaultTrace;
        try
        {
            var files = BundledTraces.Locate(name);
            vcpus = files.Vcpus;
            exits = files.Exits;
            check ??= files.Reference; // none beside a trace given by path: the rows are written, not checked
            return true;
        }
        catch (ArgumentException e)
        {
            problem = e.Message;
            return false;
        }
    }

    private static bool TryWriteDeliveries(string path, IReadOnlyList<DeliveryRow> rows, TextWriter output, TextWriter error)
    {
        if (path == "-")
        {
            DeliveryCsv.Write(output, rows);
            return true;
        }

        try
        {
            using var writer = new StreamWriter(path);
            DeliveryCsv.Write(writer, rows);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error.WriteLine($"{path}: cannot write the deliveries ({e.Message}).");
            return false;
        }
    }

    private static void Report(DeliveryComparison comparison, string referencePath, TextWriter output)
    {
        CultureInfo invariant = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(invariant,
            $"Check against {referencePath}: {comparison.Matching} rows match, {comparison.Differing} differ"));
        foreach (string difference in comparison.FirstDifferences)
        {
            output.WriteLine("  " + difference);
        }
    }

    private sealed record ReplayRequest(string? Vcpus, string? Exits, string? Deliveries, string? Check, bool TraceGiven, string? Trace, string? Json);
}

/// <summary><c>ipi replay --json</c>: the summary table's figures, and the check's result when there was one.</summary>
internal sealed record ReplayReport(
    string Vcpus,
    string Exits,
    long Records,
    long Latched,
    long TopologyWrites,
    long IpisFired,
    IReadOnlyDictionary<string, long> IpisByMode,
    long Destinations,
    long Rejected,
    IReadOnlyDictionary<string, long> RejectedByReason,
    double ElapsedMs,
    double RowsPerSecond,
    ReplayCheck? Check)
{
    public static ReplayReport From(string vcpus, string exits, ReplayCounters c, TimeSpan elapsed, string? reference, DeliveryComparison? comparison)
        => new(vcpus, exits, c.Records, c.Latched, c.TopologyWrites, c.Fired,
            c.IpisByMode.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value),
            c.Destinations, c.Rejected,
            c.RejectedByReason.OrderBy(p => p.Key).ToDictionary(p => p.Key.ToString(), p => p.Value),
            elapsed.TotalMilliseconds, c.Records / Math.Max(elapsed.TotalSeconds, 1e-9),
            comparison is null ? null : new ReplayCheck(reference!, comparison.Matching, comparison.Differing, comparison.Identical, [.. comparison.FirstDifferences]));
}

/// <summary>The check against a reference deliveries.csv: rows that match, rows that differ, the first differences.</summary>
internal sealed record ReplayCheck(string Reference, long Matching, long Differing, bool Identical, IReadOnlyList<string> FirstDifferences);

/// <summary>Source-generated JSON for <see cref="ReplayReport"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReplayReport))]
internal sealed partial class ReplayReportJsonContext : JsonSerializerContext;
