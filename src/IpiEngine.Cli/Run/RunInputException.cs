namespace IpiEngine.Cli.Run;

/// <summary>Bad input to <c>ipi run</c>: the message is one sentence for the user, and the exit code is 2.</summary>
internal sealed class RunInputException : Exception
{
    /// <summary>Creates the exception with the sentence to show.</summary>
    public RunInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the sentence to show and its cause.</summary>
    public RunInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Required by the analyzers' exception pattern; prefer the constructors with a message.</summary>
    public RunInputException()
        : base("Bad input.")
    {
    }
}
