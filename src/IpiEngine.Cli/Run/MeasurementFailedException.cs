namespace IpiEngine.Cli.Run;

/// <summary>
/// A measuring command could not measure (the engine did not do what the measurement needs): the message is one
/// sentence for the user, and the exit code is 1 (<see cref="BadInput.ExitCode"/>).
/// </summary>
internal sealed class MeasurementFailedException : Exception
{
    /// <summary>Creates the exception with the sentence to show.</summary>
    public MeasurementFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the sentence to show and its cause.</summary>
    public MeasurementFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Required by the analyzers' exception pattern; prefer the constructors with a message.</summary>
    public MeasurementFailedException()
        : base("The measurement failed.")
    {
    }
}
