namespace IpiEngine.Transport;

/// <summary>An embedder's hook that hands forwarded IPIs to its hypervisor (for example a VM ioctl per record).</summary>
public abstract class IcrInjector
{
    /// <summary>Injects one frame's worth of IPIs, in order. The span is only valid during the call.</summary>
    public abstract void Inject(ReadOnlySpan<IcrInjection> injections);
}
