using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// The kernel's receiving side in a trace replayed over nodes: each arrival goes to the kernel as a <c>KVM_DSM_IPI</c>
/// record (<see cref="InjectorSink"/>) with ICR high encoded in its source's APIC mode at its write, which the trace
/// tells by the register written (<c>0x300</c> xAPIC, <c>0x830</c> x2APIC). One mode per trace encoded wrongly every
/// IPI of a guest that switched mode mid-way (the firmware's xAPIC start-up, then x2APIC). Arrivals are handed on in
/// order, in runs of one mode.
/// </summary>
internal sealed class SourceModeInjectorSink(IcrInjector injector, ExitRecord[] exits) : RemoteDeliverySink
{
    private readonly InjectorSink _xApic = new(injector, x2Apic: false);
    private readonly InjectorSink _x2Apic = new(injector, x2Apic: true);

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        int applied = 0; // the leading arrivals the runs before took: a failure says so, as InjectorSink's own does
        try
        {
            while (applied < deliveries.Length)
            {
                bool x2Apic = IsX2ApicTag(deliveries[applied].Tag);
                int run = 1;
                while (applied + run < deliveries.Length && IsX2ApicTag(deliveries[applied + run].Tag) == x2Apic)
                {
                    run++;
                }

                (x2Apic ? _x2Apic : _xApic).Deliver(fromNode, deliveries.Slice(applied, run));
                applied += run;
            }
        }
        catch (PartlyAppliedException partly)
        {
            throw new PartlyAppliedException(applied + partly.Applied, deliveries.Length, partly.InnerException ?? partly);
        }
        catch (Exception e) when (applied > 0)
        {
            throw new PartlyAppliedException(applied, deliveries.Length, e);
        }
    }

    /// <summary>Whether <paramref name="write"/> is an x2APIC write (its vCPU was in x2APIC mode when it wrote).</summary>
    public static bool IsX2ApicWrite(in ExitRecord write) => write.Register is ApicRegister.X2Icr or ApicRegister.X2SelfIpi;

    /// <summary>The record of <paramref name="exits"/> (tags ascending, as read) tagged <paramref name="tag"/>.</summary>
    /// <exception cref="ArgumentException">No record has that tag.</exception>
    public static ExitRecord WriteOf(ExitRecord[] exits, ulong tag)
    {
        int at = IndexOf(exits, tag);
        return at >= 0 ? exits[at] : throw new ArgumentException($"the trace has no record of seq {tag}.", nameof(tag));
    }

    /// <summary>A tag that names no record of the trace (a corrupt arrival) is encoded as xAPIC; the kernel's check then finds it.</summary>
    private bool IsX2ApicTag(ulong tag) => IndexOf(exits, tag) is var at && at >= 0 && IsX2ApicWrite(exits[at]);

    private static int IndexOf(ExitRecord[] exits, ulong tag) => exits.AsSpan().BinarySearch(new TagOf(tag));

    /// <summary>Compares a record's tag with the one sought (the records are in tag order).</summary>
    private readonly struct TagOf(ulong tag) : IComparable<ExitRecord>
    {
        public int CompareTo(ExitRecord other) => tag.CompareTo(other.Tag);
    }
}
