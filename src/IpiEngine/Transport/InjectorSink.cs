using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// A sink that turns forwarded deliveries into <see cref="IcrInjection"/> records for an embedder's
/// <see cref="IcrInjector"/>: the target is the destination vCPU the sending node resolved, the ICR is the one the
/// source wrote (low dword as written; high dword = the destination field as carried, which the injector
/// interprets in its VM's APIC mode). Safe for concurrent links: each call converts in a buffer of its own thread.
/// </summary>
public sealed class InjectorSink : RemoteDeliverySink
{
    [ThreadStatic] private static IcrInjection[]? t_scratch;
    private readonly IcrInjector _injector;

    /// <summary>Creates the sink.</summary>
    public InjectorSink(IcrInjector injector)
    {
        ArgumentNullException.ThrowIfNull(injector);
        _injector = injector;
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
                scratch[i] = new IcrInjection(d.DestinationVcpu, d.IcrLow, d.IcrDestination, d.IcrDestination);
            }
            _injector.Inject(scratch.AsSpan(0, n));
            deliveries = deliveries[n..];
        }
    }
}
