using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json;
using IpiEngine.Cli.Run;
using IpiEngine.Trace;

namespace IpiEngine.Cli;

/// <summary>
/// <c>ipi run</c>: simulates a VM's IPI traffic through the engine (or replays a recorded trace through it) and
/// shows what happened. Exit codes: 0 done, 1 conservation failure or a replay that differs, 2 bad input.
/// </summary>
internal static class RunCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var options = new RunOptions();
        var command = new Command("run", "Simulate a VM's IPI traffic through the engine (default: 16 vCPUs, x2APIC cluster, a Linux-like mix, 10 s) and summarize it; or replay a trace with --trace.");
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.Action = new RunAction(options);
        return command;
    }

    /// <summary>
    /// The action. It clears the parser's errors so that every bad input, including an unknown option or a missing
    /// value, reaches <see cref="RunOptions.Read"/> and exits with code 2 and one sentence.
    /// </summary>
    private sealed class RunAction(RunOptions options) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                var settings = options.Read(parseResult);
                var human = RunConsole.Over(settings.JsonPath == "-" ? error : output);
                using var interruption = new RunInterruption();
                if (settings.Nodes is not null)
                {
                    return NodesRun.Execute(settings, human, error, interruption, output);
                }

                var report = settings.IsTrace ? TraceRun.Execute(settings, human, interruption)
                    : settings.ClosedLoop is not null ? ClosedLoopRun.Execute(settings, human, interruption)
                    : SyntheticRun.Execute(settings, human, interruption);
                RunSummaryTable.Write(human.Console, report);
                JsonOutput.Write(settings.JsonPath, report, RunReportJsonContext.Default.RunReport, output);
                return report.ConservationHeld && report.MatchesSequentialReplay != false && report.MatchesReference != false ? 0 : 1;
            }
            catch (RunInputException e)
            {
                error.WriteLine(e.Message);
                return 2;
            }
            catch (TraceFormatException e)
            {
                error.WriteLine(e.Message);
                return 2;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"Cannot read or write a file: {e.Message}");
                return 2;
            }
        }
    }
}
