using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>
/// The resolve stage: runs each exit record through <see cref="IcrResolver"/> (which keeps the per-source ICR2 latch)
/// and fans a fired IPI out to one delivery per destination, so a multicast costs O(destinations). Counts every record
/// once: latched, resolved IPI, or rejected with its reason. One thread at a time.
/// </summary>
internal sealed class ResolveStage
{
    private readonly IcrResolver _resolver;
    private readonly DestinationSet _destinations;
    private readonly StageCounters _counters;
    private long _latched;
    private long _ipis;
    private long _destinationCount;
    private long _noDestination;

    public ResolveStage(IcrResolver resolver, StageCounters counters)
    {
        _resolver = resolver;
        _destinations = new DestinationSet(resolver.VcpuCount);
        _counters = counters;
    }

    /// <summary>Resolves one record into <paramref name="sink"/>: a unicast by the fast lane, anything else fully.</summary>
    [MethodImpl(HotPath.Inlined)]
    public void Resolve<TSink>(in ExitRecord record, ref TSink sink) where TSink : struct, IResolvedSink
        => ResolveRun(new ReadOnlySpan<ExitRecord>(in record), ref sink);

    /// <summary>
    /// Resolves a run of records into <paramref name="sink"/>, in order: each unicast by the fast lane (counted once for
    /// the run, in locals rather than fields), anything else fully.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public void ResolveRun<TSink>(ReadOnlySpan<ExitRecord> records, ref TSink sink) where TSink : struct, IResolvedSink
    {
        IcrResolver resolver = _resolver;
        int unicasts = 0;
        int others = 0; // deliveries of the fully resolved
        foreach (ref readonly ExitRecord record in records)
        {
            int target = resolver.TryResolveUnicast(record, out uint destinationField);
            if (target >= 0)
            {
                unicasts++;
                sink.Add(record, record.SourceVcpu, (uint)target, (uint)record.Value, destinationField);
            }
            else
            {
                others += ResolveFully(record, ref sink);
            }
        }

        _ipis += unicasts;
        _destinationCount += unicasts;
        sink.Counted(unicasts + others);
    }

    /// <summary>The full resolution (multicast, broadcast, shorthands, other modes, latches, rejections); returns the deliveries it added.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private int ResolveFully<TSink>(in ExitRecord record, ref TSink sink) where TSink : struct, IResolvedSink
    {
        ExitOutcome outcome = _resolver.Process(record, _destinations);
        if (outcome.Kind != ExitKind.Fired)
        {
            CountOther(outcome);
            return 0;
        }

        CountDeviceInput(outcome.Input, resolved: true);

        ReadOnlySpan<int> destinations = _destinations.Vcpus;
        _ipis++;
        _destinationCount += destinations.Length;
        if (destinations.IsEmpty)
        {
            _noDestination++;
            return 0;
        }

        IcrCommand command = outcome.Command;
        uint source = record.SourceVcpu;
        if (outcome.Input == InterruptInput.IoApic && (command.Low & RemoteDelivery.IoApicEoiFlag) == 0)
        {
            source = (uint)_resolver.IoApicSource; // a pin fired: the IOAPIC sends it (an EOI on its way there keeps its vCPU)
        }

        for (int i = 0; i < destinations.Length; i++)
        {
            sink.Add(record, source, (uint)destinations[i], command.Low, command.Destination);
        }

        return destinations.Length;
    }

    /// <summary>Publishes the counts gathered since the last call (once per batch).</summary>
    [MethodImpl(HotPath.Optimized)]
    public void PublishCounters()
    {
        _counters.Add(CounterSlot.Latched, _latched);
        _counters.Add(CounterSlot.IpisResolved, _ipis);
        _counters.Add(CounterSlot.DestinationsResolved, _destinationCount);
        _counters.Add(CounterSlot.NoDestination, _noDestination);
        _latched = _ipis = _destinationCount = _noDestination = 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountOther(in ExitOutcome outcome)
    {
        switch (outcome.Kind)
        {
            case ExitKind.Latched:
                _latched++;
                if (outcome.Input == InterruptInput.IoApic)
                {
                    _counters.Add(CounterSlot.IoApicStateOnly, 1);
                }

                break;
            case ExitKind.TopologyWrite:
                _counters.Add(CounterSlot.TopologyWrites, 1); // only if a caller bypassed the posting path's routing
                break;
            default:
                _counters.AddRejected(outcome.Reason);
                CountDeviceInput(outcome.Input, resolved: false);

                break;
        }
    }

    /// <summary>Counts a device input (MSI, PV IPI, IOAPIC) as resolved or rejected per kind; an ICR write counts nothing here.</summary>
    private void CountDeviceInput(InterruptInput input, bool resolved)
    {
        if (input == InterruptInput.Icr)
        {
            return;
        }

        _counters.Add(input switch
        {
            InterruptInput.Msi => resolved ? CounterSlot.MsisResolved : CounterSlot.MsisRejected,
            InterruptInput.PvIpi => resolved ? CounterSlot.PvIpisResolved : CounterSlot.PvIpisRejected,
            _ => resolved ? CounterSlot.IoApicResolved : CounterSlot.IoApicRejected,
        }, 1);
    }
}
