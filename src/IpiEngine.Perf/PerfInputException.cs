namespace IpiEngine.Perf;

/// <summary>
/// Input the perf tools cannot use (a missing or malformed record, an unknown commit, records that
/// cannot be compared). The message is one sentence for the user; the CLI prints it and exits 2.
/// </summary>
public sealed class PerfInputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PerfInputException()
    {
    }

    /// <summary>Creates the exception with a one-sentence message.</summary>
    public PerfInputException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a one-sentence message and its cause.</summary>
    public PerfInputException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
