namespace IpiEngine.Cli.Run;

/// <summary>How a measuring command (<c>ipi perf idle</c>, <c>stalls</c>, <c>ioapic-roundtrip</c>) ends on bad input.</summary>
internal static class BadInput
{
    /// <summary>
    /// Runs <paramref name="command"/> and returns its exit code; bad input (<see cref="RunInputException"/>) or a file that
    /// cannot be written ends as one sentence on <paramref name="error"/> and exit code 2, a measurement that could not be
    /// made (<see cref="MeasurementFailedException"/>) as one sentence and exit code 1.
    /// </summary>
    public static int ExitCode(TextWriter error, Func<int> command)
    {
        try
        {
            return command();
        }
        catch (RunInputException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        catch (MeasurementFailedException e)
        {
            error.WriteLine(e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"Cannot write a file: {e.Message}");
            return 2;
        }
    }
}
