namespace IpiEngine;

/// <summary>
/// A post, batch or topology write reached an engine that was stopped (or is stopping): it was not taken and is not
/// counted. Every record taken before the stop is resolved by the stop's drain.
/// </summary>
public sealed class EngineStoppedException : InvalidOperationException
{
    /// <summary>Creates the exception with a default message.</summary>
    public EngineStoppedException()
        : base("The engine is stopped: it accepts no more records.")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public EngineStoppedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public EngineStoppedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
