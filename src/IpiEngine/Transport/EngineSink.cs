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
    /// stop says so), and not a reason to have the link hand the same records again. On the VM's IOAPIC node, a peer
    /// vCPU's EOI or entry write that finds that vCPU's ring full is waited for only while no forward waits for room in a
    /// peer's window; then the call stops there and says how many leading records it applied
    /// (<see cref="PartlyAppliedException"/>), and the link is handed the rest again.
    /// </summary>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        => _ = _engine.DeliverRemoteReportingFailure(deliveries, fromNode); // a failed pipeline's records were applied and counted: not thrown, so not handed again
}
