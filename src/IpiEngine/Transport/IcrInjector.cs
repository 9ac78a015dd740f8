namespace IpiEngine.Transport;

/// <summary>An embedder's hook that hands forwarded IPIs to its hypervisor (for example a VM ioctl per record).</summary>
public abstract class IcrInjector
{
    /// <summary>
    /// Injects one frame's worth of IPIs (on the IOAPIC node, the part between two IOAPIC records), in order. The span is
    /// only valid during the call. It should not throw: a throw counts as none of this call's IPIs injected, and the link
    /// closes (<see cref="LinkFault.SinkFailed"/>) and is handed them again after a backoff (those of earlier calls are
    /// not), so an IPI this call injected before it threw is injected twice.
    /// </summary>
    public abstract void Inject(ReadOnlySpan<IcrInjection> injections);
}
