using IpiEngine.Delivery;

namespace IpiEngine.Trace;

/// <summary>What a <see cref="ConcurrentTraceReplay"/> delivered: every logged delivery, the counters, and how long it took.</summary>
/// <param name="Deliveries">The delivery log, in delivery order.</param>
/// <param name="Counters">The engine's counters after it stopped.</param>
/// <param name="Elapsed">From the first post to the end of the drain.</param>
internal sealed record ConcurrentReplayResult(IReadOnlyList<DeliveryLogEntry> Deliveries, EngineCounters Counters, TimeSpan Elapsed)
{
    /// <summary>The destinations each firing write reached (by its <c>seq</c>), ascending.</summary>
    public IReadOnlyDictionary<long, int[]> DestinationsBySeq()
    {
        var lists = new Dictionary<long, List<int>>();
        foreach (DeliveryLogEntry entry in Deliveries)
        {
            if (!lists.TryGetValue((long)entry.Tag, out List<int>? list))
            {
                lists[(long)entry.Tag] = list = [];
            }

            list.Add(entry.DestinationVcpu);
        }

        var result = new Dictionary<long, int[]>(lists.Count);
        foreach ((long seq, List<int> list) in lists)
        {
            list.Sort();
            result[seq] = [.. list];
        }

        return result;
    }

    /// <summary>
    /// Compares with the sequential reference: every firing write reached exactly the reference's destinations (each
    /// once) and nothing else was delivered. Returns null when equal, else the first difference in one sentence.
    /// </summary>
    public string? FirstDifference(ReplayResult reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        IReadOnlyDictionary<long, int[]> actual = DestinationsBySeq();
        int matched = 0;
        foreach (DeliveryRow row in reference.Rows)
        {
            int[] got = actual.TryGetValue(row.Seq, out int[]? destinations) ? destinations : [];
            if (!got.AsSpan().SequenceEqual(row.Destinations))
            {
                return $"seq {row.Seq}: the reference delivered to [{string.Join('|', row.Destinations.ToArray())}], the engine to [{string.Join('|', got)}].";
            }

            matched += got.Length > 0 ? 1 : 0;
        }

        return matched == actual.Count ? null : $"the engine delivered {actual.Count - matched} IPIs the reference has no row for.";
    }
}
