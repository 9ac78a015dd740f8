namespace IpiEngine.Transport;

/// <summary>An embedder's hook that hands forwarded IPIs to its hypervisor (for example a VM ioctl per record).</summary>
public abstract class IcrInjector
{
    /// <summary>
    /// Injects one frame's worth of IPIs, in order. The span is only valid during the call. It should not throw: a throw
    /// makes the link take the whole frame as not applied and resend it (<see cref="LinkFault.SinkFailed"/>), so IPIs of
    /// that frame injected before the throw (by this call or, on the IOAPIC node, an earlier one) are injected again.
    /// </summary>
    public abstract void Inject(ReadOnlySpan<IcrInjection> injections);
}
