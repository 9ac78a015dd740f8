namespace IpiEngine.Transport;

/// <summary>
/// A sink of this library failed part way through a frame, after it applied the frame's first <see cref="Applied"/>
/// records in order (the cause is the inner exception). The link takes those as applied and closes as
/// <see cref="LinkFault.SinkFailed"/>; the peer resends only the rest, so none of them is applied twice. Only an
/// <see cref="InjectorSink"/> with an IOAPIC engine throws it (without one, a frame is one injector call), an
/// <see cref="EngineSink"/> whose engine found a peer vCPU's ring full at an IOAPIC record, and the CLI's trace sinks;
/// a sink that wraps such a sink and counts what it passed on must count those records as passed on before it lets
/// this through. The link believes it only for the span it handed over (<see cref="Total"/>): a host's sink that
/// passes an <see cref="InjectorSink"/> part of a frame cannot rebase the count (the type is internal), so its throw
/// counts as nothing applied.
/// </summary>
internal sealed class PartlyAppliedException : Exception
{
    /// <summary>Creates the exception: of the <paramref name="total"/> records handed over, the first <paramref name="applied"/> (at least one) were applied before <paramref name="cause"/>.</summary>
    public PartlyAppliedException(int applied, int total, Exception cause)
        : base($"{cause.GetType().Name} after {applied} of {total} records were applied: {cause.Message}", cause)
    {
        Applied = applied;
        Total = total;
    }

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException() : this("a sink failed") { }

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException(string message) : base(message) { }

    /// <summary>Creates the exception with nothing applied (kept for the standard constructor set).</summary>
    public PartlyAppliedException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>How many of the frame's leading records the sink applied before it failed.</summary>
    public int Applied { get; }

    /// <summary>How many records the failed sink was handed (the span <see cref="Applied"/> counts from).</summary>
    public int Total { get; }
}
