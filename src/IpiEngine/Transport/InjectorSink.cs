using System.Diagnostics.CodeAnalysis;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// A sink that turns forwarded deliveries into <see cref="IcrInjection"/> records for an embedder's
/// <see cref="IcrInjector"/>: the target is the destination vCPU the sending node resolved, the ICR is the one the
/// source wrote: the low dword as written, the high dword rebuilt from the destination field (xAPIC: ICR2 with the
/// 8-bit destination in bits 31:24; x2APIC: the 32-bit destination, SDM Vol. 3A 11.6.1 and 11.12.9), chosen by the
/// VM's APIC mode that the embedder states. Safe for concurrent links: each call converts in a buffer of its own thread.
/// On the VM's IOAPIC node (<see cref="EngineOptions.IoApicNode"/>) other nodes also send their vCPUs' IOAPIC EOIs and
/// redirection-entry writes: those are not interrupts for the kernel but writes to the engine's IOAPIC, so build the
/// sink with that engine (<see cref="InjectorSink(IcrInjector, bool, Engine)"/>), which applies them there; a sink
/// without one refuses them (the link closes and says why) rather than inject them as IPIs.
/// </summary>
public sealed class InjectorSink : RemoteDeliverySink
{
    [ThreadStatic] private static IcrInjection[]? t_scratch;
    private readonly IcrInjector _injector;
    private readonly bool _x2Apic;
    private readonly Engine? _ioApic;

    /// <summary>Creates the sink; <paramref name="x2Apic"/> says how to rebuild ICR high (see the class remarks).</summary>
    public InjectorSink(IcrInjector injector, bool x2Apic)
    {
        ArgumentNullException.ThrowIfNull(injector);
        _injector = injector;
        _x2Apic = x2Apic;
    }

    /// <summary>
    /// Creates the sink of the VM's IOAPIC node: IPIs go to <paramref name="injector"/>, other nodes' IOAPIC EOIs and
    /// entry writes to <paramref name="ioApicEngine"/>'s IOAPIC (<see cref="Engine.DeliverRemote"/>).
    /// </summary>
    public InjectorSink(IcrInjector injector, bool x2Apic, Engine ioApicEngine)
        : this(injector, x2Apic)
    {
        ArgumentNullException.ThrowIfNull(ioApicEngine);
        _ioApic = ioApicEngine;
    }

    /// <summary>
    /// Injects the IPIs and applies the IOAPIC records, in order. When the injector (or the IOAPIC engine) throws after
    /// part of the span went through, the throw says how many leading records did (<see cref="PartlyAppliedException"/>),
    /// so that the link is handed only the rest again: a throwing <see cref="IcrInjector.Inject"/> call counts as having
    /// injected none of its records.
    /// </summary>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        // One buffer per receiving thread, sized by the protocol bound: allocated once, never per frame.
        var scratch = t_scratch ??= new IcrInjection[FrameHeader.MaxRecordsPerFrame];
        if (_ioApic is null && deliveries.Length > scratch.Length)
            RefuseIoApicRecords(fromNode, deliveries); // a span longer than a frame: its first part would be injected before the loop saw the rest
        int applied = 0; // the leading records injected or applied so far
        try
        {
            while (applied < deliveries.Length)
            {
                int n = 0, next = applied;
                for (; next < deliveries.Length && n < scratch.Length; next++)
                {
                    ref readonly var d = ref deliveries[next];
                    if ((d.IcrLow & RemoteDelivery.IoApicEoiFlag) != 0)
                    {
                        // Refused before anything of the frame is injected (only this branch injects before the loop ends,
                        // and a span this long was checked above), so the link's resend of the whole frame doubles nothing.
                        if (_ioApic is null)
                            ThrowNoIoApicEngine(fromNode);

                        // In order with the IPIs around it: what was converted so far goes first.
                        if (n > 0)
                            _injector.Inject(scratch.AsSpan(0, n));
                        n = 0;
                        applied = next; // the IPIs before it went through
                        _ = _ioApic.DeliverRemoteReportingFailure(deliveries.Slice(next, 1), fromNode); // one IOAPIC record: no run whose failure to report; a full ring throws, not applied
                        applied = next + 1;
                        continue;
                    }
                    scratch[n++] = new IcrInjection(d.DestinationVcpu, d.IcrLow, _x2Apic ? d.IcrDestination : d.IcrDestination << 24, d.IcrDestination);
                }
                if (n > 0)
                    _injector.Inject(scratch.AsSpan(0, n));
                applied = next;
            }
        }
        catch (Exception e) when (applied > 0)
        {
            throw new PartlyAppliedException(applied, deliveries.Length, e); // the link resends from the first record not applied, not the frame's first
        }
    }

    /// <summary>Without an IOAPIC engine, for a span longer than one frame: throws if any record is an IOAPIC EOI or entry write.</summary>
    private static void RefuseIoApicRecords(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        foreach (ref readonly var d in deliveries)
        {
            if ((d.IcrLow & RemoteDelivery.IoApicEoiFlag) != 0)
                ThrowNoIoApicEngine(fromNode);
        }
    }

    [DoesNotReturn]
    private static void ThrowNoIoApicEngine(int fromNode)
        => throw new InvalidOperationException($"node {fromNode} sent an IOAPIC EOI or entry write: this node holds the VM's IOAPIC (EngineOptions.IoApicNode), so build its InjectorSink with the engine (InjectorSink(injector, x2Apic, engine)); it is not an interrupt to inject");
}
