using IpiEngine.Apic;

namespace IpiEngine.Trace;

/// <summary>
/// Runs a trace through <see cref="IcrResolver"/> alone, in order, on one thread: the reference behaviour the
/// concurrent engine is checked against. One <see cref="DeliveryRow"/> per firing write (fired or rejected).
/// </summary>
internal static class SequentialReplay
{
    /// <summary>Replays <paramref name="exits"/> from the spec's reset state with these initial APIC IDs.</summary>
    public static ReplayResult Run(ReadOnlySpan<uint> initialApicIds, ReadOnlySpan<ExitRecord> exits)
        => Run(ApicTopology.Reset(initialApicIds), exits);

    /// <summary>Replays <paramref name="exits"/> from <paramref name="topology"/> (which the replay takes over).</summary>
    public static ReplayResult Run(ApicTopology topology, ReadOnlySpan<ExitRecord> exits)
    {
        var resolver = new IcrResolver(topology);
        var destinations = new DestinationSet(topology.VcpuCount);
        var counters = new ReplayCounters();
        var rows = new List<DeliveryRow>();
        foreach (ref readonly ExitRecord record in exits)
        {
            ExitOutcome outcome = resolver.Process(record, destinations);
            counters.Count(outcome, destinations.Count);
            if (outcome.IsFiringWrite)
            {
                rows.Add(DeliveryRow.FromOutcome(record, outcome, destinations.Vcpus));
            }
        }

        return new ReplayResult(rows, counters);
    }
}
