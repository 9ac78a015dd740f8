namespace IpiEngine;

/// <summary>
/// The engine's pipeline failed; <see cref="Exception.InnerException"/> is the original failure. From the moment of
/// the failure every post, batch and topology write throws this (nothing is taken or counted), and every
/// <see cref="Engine.Stop"/> reports it. Records taken before the failure that were never resolved are counted as
/// rejected with <see cref="Apic.RejectReason.EngineFaulted"/>.
/// </summary>
public sealed class EngineFaultedException : InvalidOperationException
{
    /// <summary>Creates the exception with a default message.</summary>
    public EngineFaultedException()
        : base("The engine's pipeline failed.")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public EngineFaultedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the original failure.</summary>
    public EngineFaultedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
