using System.CommandLine;
using IpiEngine.Perf.Interleave;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi perf worker SUITE.dll [--filter ...]</c>: one side's benchmark worker for the interleaved
/// rounds of <c>compare-commits</c> and <c>aa</c>, which start it; it speaks JSON lines on stdin and
/// stdout (<see cref="BenchmarkWorker"/>). Hidden: not a command for people.
/// </summary>
internal static class PerfWorkerCommand
{
    /// <summary>The hidden subcommand.</summary>
    public static Command Create()
    {
        var assembly = new Argument<string>("SUITE") { Description = "The built benchmark suite assembly (IpiEngine.Benchmarks.dll)." };
        var filter = PerfRecordCommand.FilterOption();
        var seed = new Option<int?>("--layout-seed") { Description = "Move the code and data placement by this seed before the first benchmark is compiled." };
        var command = new Command("worker", "Serve one side's benchmark blocks to compare-commits over stdin/stdout (started by it).")
        {
            assembly, filter, seed,
        };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            // A terminal's Ctrl-C reaches the whole process group: the worker leaves it to its parent (aa lets the run in
            // progress finish), and ends when the parent closes its stdin, also when the parent itself was ended.
            Console.CancelKeyPress += (_, e) => e.Cancel = true;
            // The protocol owns stdout; anything a benchmark prints goes to stderr instead.
            var protocol = Console.Out;
            Console.SetOut(Console.Error);
            return BenchmarkWorker.Serve(parse.GetValue(assembly)!, parse.GetValue(filter) ?? [], Console.In, protocol, parse.GetValue(seed));
        });
        return command;
    }

    /// <summary>The command line that starts this tool's worker: the running <c>dotnet</c> host (or <c>dotnet</c> from PATH) and this assembly.</summary>
    public static IReadOnlyList<string> CommandLine()
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        return [host, typeof(PerfWorkerCommand).Assembly.Location, "perf", "worker"];
    }
}
