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

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries) => _engine.DeliverRemote(deliveries);
}
