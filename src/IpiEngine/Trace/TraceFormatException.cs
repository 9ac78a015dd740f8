namespace IpiEngine.Trace;

/// <summary>A trace file that does not follow the format: the message reads <c>file:line: what is wrong</c>.</summary>
internal sealed class TraceFormatException : Exception
{
    /// <summary>Creates the exception for a place in a file (line 0 = the file as a whole).</summary>
    public TraceFormatException(string file, int line, string problem)
        : base(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    /// <summary>Creates the exception with a cause (an I/O error).</summary>
    public TraceFormatException(string file, int line, string problem, Exception inner)
        : base(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}", inner)
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    /// <summary>Not used: a trace error always names its file.</summary>
    public TraceFormatException()
        : this("(unknown file)", 0, "malformed trace")
    {
    }

    /// <summary>Not used: a trace error always names its file.</summary>
    public TraceFormatException(string message)
        : this("(unknown file)", 0, message)
    {
    }

    /// <summary>Not used: a trace error always names its file.</summary>
    public TraceFormatException(string message, Exception innerException)
        : this("(unknown file)", 0, message, innerException)
    {
    }

    /// <summary>The file, as the caller named it.</summary>
    public string File { get; }

    /// <summary>The 1-based line number (the header is line 1); 0 when the problem is the file itself.</summary>
    public int Line { get; }

    /// <summary>What is wrong, without the place.</summary>
    public string Problem { get; }
}
