namespace IpiEngine.Cli.Run;

/// <summary>A generated workload through the engine (wired when the engine facade lands).</summary>
public static class SyntheticRun
{
    /// <summary>Runs the workload and reports.</summary>
    public static RunReport Execute(RunSettings settings, RunConsole console, RunInterruption interruption)
        => throw new RunInputException("ipi run is not wired to the engine yet.");
}
