namespace IpiEngine.Cli.Run;

/// <summary>A recorded trace through the engine (wired when the engine facade lands).</summary>
public static class TraceRun
{
    /// <summary>Replays the trace and reports.</summary>
    public static RunReport Execute(RunSettings settings, RunConsole console, RunInterruption interruption)
        => throw new RunInputException("ipi run --trace is not wired to the engine yet.");
}
