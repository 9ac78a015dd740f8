using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// Where a node puts the deliveries its peers forward to it: into its own engine's descriptors
/// (a simulator) or to an embedder's injector (a hypervisor). Each link's receive loop calls
/// <see cref="Deliver"/> once per frame, after the frame's records were validated against the placement;
/// links to different peers may call it concurrently, so an implementation must allow that.
/// </summary>
public abstract class RemoteDeliverySink
{
    /// <summary>
    /// Applies one frame's records, in order, exactly once each. A call that throws counts as not applied: the link
    /// closes as <see cref="LinkFault.SinkFailed"/>, redials with backoff and is handed the same records again, so a
    /// sink throws only before it applied anything (a record applied before a throw would be applied twice; this
    /// library's <see cref="InjectorSink"/> and <see cref="EngineSink"/> say how far they got instead, which the link
    /// then resends from). A sink that calls <see cref="Engine.DeliverRemote"/> catches <see cref="EngineFaultedException"/>,
    /// as <see cref="EngineSink"/> does: the engine applied and counted every record before it reported its failure; on
    /// the VM's IOAPIC node it may also wait there for the pipeline while the pipeline waits for this link (see its
    /// remarks), which <see cref="EngineSink"/> does not.
    /// </summary>
    /// <param name="fromNode">The node that forwarded them.</param>
    /// <param name="deliveries">The records; the span is only valid during the call.</param>
    public abstract void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries);
}
