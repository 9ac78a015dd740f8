using IpiEngine.Trace;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// Merges what every node delivered (seq, destination vCPU) into <c>deliveries.csv</c> rows: one row per firing write
/// of the sequential replay (its seq, source, mode and vector), with every destination any node delivered for that seq,
/// ascending, duplicates kept (so a doubled delivery differs from the reference). Counts what is doubled, lost or
/// delivered for no firing write, per node of the destination.
/// </summary>
internal sealed class TraceNodesMerge
{
    private TraceNodesMerge(List<DeliveryRow> rows, long[] doubled, long[] lost, long unknown)
    {
        Rows = rows;
        Doubled = doubled;
        Lost = lost;
        Unknown = unknown;
    }

    /// <summary>The merged rows, seq ascending.</summary>
    public IReadOnlyList<DeliveryRow> Rows { get; }

    /// <summary>Per node: deliveries of a (seq, destination) the sequential replay has, beyond the first.</summary>
    public IReadOnlyList<long> Doubled { get; }

    /// <summary>Per node: (seq, destination) pairs of the sequential replay that no node delivered.</summary>
    public IReadOnlyList<long> Lost { get; }

    /// <summary>Deliveries whose (seq, destination) the sequential replay does not have at all.</summary>
    public long Unknown { get; }

    /// <summary>Whether every destination was delivered exactly once and nothing else.</summary>
    public bool ExactlyOnce => Doubled.All(n => n == 0) && Lost.All(n => n == 0) && Unknown == 0;

    /// <summary>Merges the nodes' deliveries against the sequential replay of the trace.</summary>
    public static TraceNodesMerge Merge(ReplayResult sequential, IReadOnlyList<int> placement, IEnumerable<(long Seq, int Destination)> deliveries)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentNullException.ThrowIfNull(deliveries);
        var bySeq = new Dictionary<long, List<int>>();
        foreach (var (seq, destination) in deliveries)
        {
            if (!bySeq.TryGetValue(seq, out var list))
            {
                bySeq[seq] = list = [];
            }

            list.Add(destination);
        }

        int nodes = placement.Max() + 1;
        var doubled = new long[nodes];
        var lost = new long[nodes];
        var rows = new List<DeliveryRow>(sequential.Rows.Count);
        long matched = 0;
        foreach (DeliveryRow row in sequential.Rows)
        {
            List<int> got = bySeq.Remove(row.Seq, out var list) ? list : [];
            got.Sort();
            rows.Add(new DeliveryRow(row.Seq, row.SourceVcpu, row.Mode, row.Vector, [.. got]));
            foreach (int destination in row.Destinations)
            {
                int count = got.Count(d => d == destination);
                matched += count;
                doubled[placement[destination]] += Math.Max(0, count - 1);
                lost[placement[destination]] += count == 0 ? 1 : 0;
            }
        }

        long all = rows.Sum(r => (long)r.Destinations.Length) + bySeq.Values.Sum(l => (long)l.Count);
        return new TraceNodesMerge(rows, doubled, lost, all - matched);
    }
}
