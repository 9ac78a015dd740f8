using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// A sink that turns forwarded deliveries into <see cref="IcrInjection"/> records for an embedder's
/// <see cref="IcrInjector"/>: the target is the destination vCPU the sending node resolved, the ICR is the one the
/// source wrote: the low dword as written, the high dword rebuilt from the destination field (xAPIC: ICR2 with the
/// 8-bit destination in bits 31:24; x2APIC: the 32-bit destination, SDM Vol. 3A 11.6.1 and 11.12.9), chosen by the
/// VM's APIC mode that the embedder states. Safe for concurrent links: each call converts in a buffer of its own thread.
/// </summary>
public sealed class InjectorSink : RemoteDeliverySink
{
    [ThreadStatic] private static IcrInjection[]? t_scratch;
    private readonly IcrInjector _injector;
    private readonly bool _x2Apic;

    /// <summary>Creates the sink; <paramref name="x2Apic"/> says how to rebuild ICR high (see the class remarks).</summary>
    public InjectorSink(IcrInjector injector, bool x2Apic)
    {
        ArgumentNullException.ThrowIfNull(injector);
        _injector = injector;
        _x2Apic = x2Apic;
    }

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        // One buffer per receiving thread, sized by the protocol bound: allocated once, never per frame.
        var scratch = t_scratch ??= new IcrInjection[FrameHeader.MaxRecordsPerFrame];
        while (!deliveries.IsEmpty)
        {
            int n = Math.Min(deliveries.Length, scratch.Length);
            for (int i = 0; i < n; i++)
            {
                ref readonly var d = ref deliveries[i];
                scratch[i] = new IcrInjection(d.DestinationVcpu, d.IcrLow, _x2Apic ? d.IcrDestination : d.IcrDestination << 24, d.IcrDestination);
            }
            _injector.Inject(scratch.AsSpan(0, n));
            deliveries = deliveries[n..];
        }
    }
}
