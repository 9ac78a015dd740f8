using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// The simulator's sink: forwarded deliveries go into this node's <see cref="Engine"/> descriptors through
/// <see cref="Engine.DeliverRemote"/> (same coalescing, notification and counting as local delivery; safe from any thread).
/// </summary>
public sealed class EngineSink : RemoteDeliverySink
{
    private readonly Engine _engine;

    /// <summary>Creates the sink for <paramref name="engine"/>.</summary>
    public EngineSink(Engine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
    }

    /// <summary>
    /// Applies the records to the engine's descriptors. An engine whose pipeline failed still applies and counts them
    /// (<see cref="Engine.DeliverRemote"/>) before it reports the failure: that is its host's to see (every post and
    /// stop says so), and not a reason to have the link hand the same records again.
    /// </summary>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        => _ = _engine.DeliverRemoteReportingFailure(deliveries); // applied and counted: the sink's contract is that a throw applied nothing
}
