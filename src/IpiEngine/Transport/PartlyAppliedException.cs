namespace IpiEngine.Transport;

/// <summary>
/// A sink of this library failed part way through a frame, after it applied the frame's first <see cref="Applied"/>
/// records in order (the cause is the inner exception). The link takes those as applied and closes as
/// <see cref="LinkFault.SinkFailed"/>; the peer resends only the rest, so none of them is applied twice. Only an
/// <see cref="InjectorSink"/> with an IOAPIC engine throws it (without one, a frame is one injector call); a sink that
/// wraps such a sink and counts what it passed on must count those records as passed on before it lets this through.
/// </summary>
internal sealed class PartlyAppliedException : Exception
{
    /// <summary>Creates the exception: <paramref name="applied"/> records (at least one) were applied before <paramref name="cause"/>.</summary>
    public PartlyAppliedException(int applied, Exception cause)
        : base($"{cause.GetType().Name} after {applied} records were applied: {cause.Message}", cause)
        => Applied = applied;

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException() : this("a sink failed") { }

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException(string message) : base(message) { }

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>How many of the frame's leading records the sink applied before it failed.</summary>
    public int Applied { get; }
}
