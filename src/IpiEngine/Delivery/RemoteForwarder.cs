namespace IpiEngine.Delivery;

/// <summary>
/// Takes the deliveries whose destination vCPU lives on another node: called once per batch per destination node,
/// on the deliver thread (the transport frames and sends them; the far side calls <see cref="Engine.DeliverRemote"/>).
/// </summary>
public abstract class RemoteForwarder
{
    /// <summary>Forwards one batch for <paramref name="node"/>; the span is valid only during the call.</summary>
    public abstract void Forward(int node, ReadOnlySpan<RemoteDelivery> batch);
}
