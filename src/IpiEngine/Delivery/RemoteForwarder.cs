namespace IpiEngine.Delivery;

/// <summary>
/// Takes the deliveries whose destination vCPU lives on another node: called once per batch per destination node,
/// on the deliver thread (the transport frames and sends them; the far side calls <see cref="Engine.DeliverRemote"/>).
/// </summary>
public abstract class RemoteForwarder
{
    /// <summary>
    /// Forwards one batch for <paramref name="node"/>; the span is valid only during the call. Returns how many of the
    /// records were refused (the peer is unreachable, or the engine is stopping and the peer takes nothing): the engine
    /// counts them as <see cref="EngineCounters.PeerUnreachable"/>. 0 when all were taken. An exception fails the engine
    /// once the batch is counted (<see cref="Engine.Fault"/> holds it); the records of the call that threw are counted
    /// in <see cref="EngineCounters.Undelivered"/>.
    /// </summary>
    public abstract int Forward(int node, ReadOnlySpan<RemoteDelivery> batch);

    /// <summary>
    /// Called once by <see cref="Engine.Stop"/> before it drains: from now on a forward must not wait without bound
    /// for a peer (refuse what does not fit after a short grace instead). Any thread. An exception thrown here does not
    /// cut the stop short: the engine still joins its threads and drains, then <see cref="Engine.Stop"/> rethrows it.
    /// </summary>
    public virtual void OnEngineStopping()
    {
    }

    /// <summary>
    /// Whether a forward may be waiting now for room that only a peer's acknowledgements free (one to
    /// <paramref name="node"/>, or to any peer where receive loops may share a thread): the receive thread of
    /// <paramref name="node"/>'s link then must not wait for the pipeline (see the engine's <c>ThrowPeerRingFull</c>). Any
    /// thread; never throws. A forwarder that cannot tell says true, so that such a thread never waits.
    /// </summary>
    internal virtual bool MayWaitForRoom(int node) => true;
}
