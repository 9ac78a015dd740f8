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
    /// Resolves a run of records into <paramref name="sink"/>, in order: each stretch of unicasts by the fast lane
    /// (<see cref="ResolveUnicasts"/>, counted once for the run, in locals rather than fields), each record between
    /// stretches fully.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public void ResolveRun<TSink>(ReadOnlySpan<ExitRecord> records, ref TSink sink) where TSink : struct, IResolvedSink
    {
        int unicasts = 0;
        int others = 0; // deliveries of the fully resolved
        int next = 0;
        DestinationMap map = _resolver.Map; // once per run (see ResolveUnicasts)
        int source = records.IsEmpty ? 0 : records[0].SourceVcpu;
        bool x2ApicSender = sink.GathersLocalBits && (uint)source < (uint)map.VcpuCount && map.IsX2Apic(source);
        while (next < records.Length)
        {
            int stop = ResolveUnicasts(records, next, map, source, x2ApicSender, ref sink);
            unicasts += stop - next;
            if (stop == records.Length)
            {
                break;
            }

            others += ResolveFully(records[stop], ref sink);
            next = stop + 1;
        }

        _ipis += unicasts;
        _destinationCount += unicasts;
        sink.Counted(unicasts + others);
    }

    /// <summary>
    /// The fast lane over the records from <paramref name="start"/>: hands each unicast it takes to the sink and stops
    /// at the first record it does not take; returns that record's index (the run's length when it took them all).
    /// <paramref name="map"/> was read once for the run, after its records were published, and
    /// <paramref name="x2ApicSender"/> says whether <paramref name="source"/> (the run's first record's sender) is an
    /// x2APIC in it and the sink gathers local bits.
    /// </summary>
    /// <remarks>
    /// The loop makes no call (into a batcher that only gathers local bits, a unicast is one OR and the touched mark;
    /// the fast lane's delivery modes never reach the batcher's event flags), so the JIT keeps its state in registers;
    /// everything rare is the caller's, between two stretches. The map is read once per run, and so is what depends on
    /// the sender (see <see cref="IcrResolver.TryResolveUnicast(DestinationMap, in ExitRecord, out uint)"/>: read after
    /// the run's records were published, the map holds every topology write made before any of them was posted, and
    /// topology writes never enter a ring); in the dominant stretch, one x2APIC sender's x2APIC ICR writes, the ICR-high
    /// latch is written once. Inlined into <see cref="ResolveRun"/>: as its own method, a call per stretch cost mixed
    /// traffic (stretches of about three) 3-9 %. Posting and draining 8 vCPUs' unicasts on one thread: 4.4-4.7 ns per IPI with
    /// the per-record loop that called out for everything else, 4.0-4.2 with this loop, 3.4-3.5 with the x2APIC
    /// stretch (scratch harness, 2026-12-06; docs/performance-log.md).
    /// </remarks>
    [MethodImpl(HotPath.Inlined)]
    private int ResolveUnicasts<TSink>(ReadOnlySpan<ExitRecord> records, int start, DestinationMap map, int source, bool x2ApicSender, ref TSink sink)
        where TSink : struct, IResolvedSink
    {
        IcrResolver resolver = _resolver;
        int i = start;
        if (x2ApicSender)
        {
            // The dominant stretch: one x2APIC sender's x2APIC ICR writes (a ring holds one sender's records). What
            // depends on the sender is read once, and the ICR-high latch is written once, for the last write taken.
            ulong last = 0;
            for (; i < records.Length; i++)
            {
                ref readonly ExitRecord record = ref records[i];
                int target = record.SourceVcpu == source && record.Register == ApicRegister.X2Icr
                    ? IcrResolver.X2ApicUnicastTarget(map, record.Value)
                    : -1;
                if (target < 0)
                {
                    break;
                }

                last = record.Value;
                sink.AddLocalVectored(target, (uint)last);
            }

            if (i != start)
            {
                resolver.LatchX2ApicDestination(source, (uint)(last >> 32)); // before anything else of this sender is resolved
            }

            return i;
        }

        if (sink.GathersLocalBits)
        {
            for (; i < records.Length; i++)
            {
                ref readonly ExitRecord record = ref records[i];
                int target = resolver.TryResolveUnicast(map, record, out _);
                if (target < 0)
                {
                    break;
                }

                sink.AddLocalVectored(target, (uint)record.Value);
            }

            return i;
        }

        for (; i < records.Length; i++)
        {
            ref readonly ExitRecord record = ref records[i];
            int target = resolver.TryResolveUnicast(map, record, out uint destinationField);
            if (target < 0)
            {
                break;
            }

            sink.Add(record, record.SourceVcpu, (uint)target, (uint)record.Value, destinationField);
        }

        return i;
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
        _ipis++;
        if (outcome.Input == InterruptInput.IoApic)
        {
            return AddIoApicOutcome(record, outcome.Command, ref sink);
        }

        ReadOnlySpan<int> destinations = _destinations.Vcpus;
        _destinationCount += destinations.Length;
        if (destinations.IsEmpty)
        {
            _noDestination++;
            return 0;
        }

        IcrCommand command = outcome.Command;
        for (int i = 0; i < destinations.Length; i++)
        {
            sink.Add(record, record.SourceVcpu, (uint)destinations[i], command.Low, command.Destination);
        }

        return destinations.Length;
    }

    /// <summary>
    /// A fired IOAPIC outcome: an EOI or entry write on its way to the node that owns the IOAPIC (it keeps its vCPU as
    /// the source), or the pins the record fired, which the IOAPIC sends: the first pin's destinations with its command,
    /// then each further pin's (an EOI re-delivering several level pins of its vector) with that pin's own
    /// (<see cref="IcrResolver.NextIoApicPin"/>). Apart from the multicast path above, which it would slow (its
    /// <c>out</c> command is address-taken). Returns the deliveries added.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int AddIoApicOutcome<TSink>(in ExitRecord record, IcrCommand command, ref TSink sink) where TSink : struct, IResolvedSink
    {
        bool pinsFired = (command.Low & RemoteDelivery.IoApicEoiFlag) == 0;
        uint source = pinsFired ? (uint)_resolver.IoApicSource : record.SourceVcpu;
        int added = 0;
        do
        {
            ReadOnlySpan<int> destinations = _destinations.Vcpus;
            for (int i = 0; i < destinations.Length; i++)
            {
                sink.Add(record, source, (uint)destinations[i], command.Low, command.Destination);
            }

            added += destinations.Length;
        }
        while (pinsFired && _resolver.NextIoApicPin(_destinations, out command));

        _destinationCount += added;
        if (added == 0)
        {
            _noDestination++;
        }

        return added;
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
