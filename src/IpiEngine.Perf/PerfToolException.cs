namespace IpiEngine.Perf;

/// <summary>
/// The perf tool failed in itself, not the input (a benchmark worker that died or stopped answering mid-run): there is
/// no verdict. The message is one sentence; the commands exit 4 for it, never 2, which means bad input.
/// </summary>
public sealed class PerfToolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PerfToolException()
    {
    }

    /// <summary>Creates the exception with a one-sentence message.</summary>
    public PerfToolException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a one-sentence message and its cause.</summary>
    public PerfToolException(string message, Exception inner) : base(message, inner)
    {
    }
}
