using IpiEngine.Trace;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// Merges what every node delivered (<see cref="NodeDelivery"/>: seq, destination vCPU, mode, vector) into
/// <c>deliveries.csv</c> rows: one row per firing write of the sequential replay (its seq and source), with every
/// destination any node delivered for that seq, ascending, duplicates kept (so a doubled delivery differs from the
/// reference), and the replay's mode and vector unless a delivery of the row had others (then that delivery's, so the
/// row differs from the reference too). Counts what is doubled, lost, delivered with another mode or vector than the
/// replay's, or delivered for no firing write, per node of the destination.
/// </summary>
internal sealed class TraceNodesMerge
{
    private TraceNodesMerge(List<DeliveryRow> rows, long[] doubled, long[] lost, long[] mismatched, long unknown)
    {
        Rows = rows;
        Doubled = doubled;
        Lost = lost;
        Mismatched = mismatched;
        Unknown = unknown;
    }

    /// <summary>The merged rows, seq ascending.</summary>
    public IReadOnlyList<DeliveryRow> Rows { get; }

    /// <summary>Per node: deliveries of a (seq, destination) the sequential replay has, beyond the first.</summary>
    public IReadOnlyList<long> Doubled { get; }

    /// <summary>Per node: (seq, destination) pairs of the sequential replay that no node delivered.</summary>
    public IReadOnlyList<long> Lost { get; }

    /// <summary>Per node: deliveries of a (seq, destination) the sequential replay has, with another delivery mode or vector than its row.</summary>
    public IReadOnlyList<long> Mismatched { get; }

    /// <summary>Deliveries whose (seq, destination) the sequential replay does not have at all.</summary>
    public long Unknown { get; }

    /// <summary>Whether every destination was delivered exactly once, with the replay's mode and vector, and nothing else.</summary>
    public bool ExactlyOnce => Doubled.All(n => n == 0) && Lost.All(n => n == 0) && Mismatched.All(n => n == 0) && Unknown == 0;

    /// <summary>Merges the nodes' deliveries against the sequential replay of the trace.</summary>
    public static TraceNodesMerge Merge(ReplayResult sequential, IReadOnlyList<int> placement, IEnumerable<NodeDelivery> deliveries)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentNullException.ThrowIfNull(deliveries);
        var bySeq = new Dictionary<long, List<NodeDelivery>>();
        foreach (NodeDelivery delivery in deliveries)
        {
            if (!bySeq.TryGetValue(delivery.Seq, out var list))
            {
                bySeq[delivery.Seq] = list = [];
            }

            list.Add(delivery);
        }

        int nodes = placement.Max() + 1;
        var doubled = new long[nodes];
        var lost = new long[nodes];
        var mismatched = new long[nodes];
        var rows = new List<DeliveryRow>(sequential.Rows.Count);
        long matched = 0;
        foreach (DeliveryRow row in sequential.Rows)
        {
            List<NodeDelivery> got = bySeq.Remove(row.Seq, out var list) ? list : [];
            got.Sort((a, b) => a.Destination.CompareTo(b.Destination));
            bool AsReplayed(NodeDelivery d) => d.Vector == row.Vector && DeliveryRow.ModeName(d.Mode) == row.Mode;
            int other = got.FindIndex(d => !AsReplayed(d));
            rows.Add(other < 0
                ? new DeliveryRow(row.Seq, row.SourceVcpu, row.Mode, row.Vector, [.. got.Select(d => d.Destination)])
                : new DeliveryRow(row.Seq, row.SourceVcpu, DeliveryRow.ModeName(got[other].Mode), got[other].Vector, [.. got.Select(d => d.Destination)]));
            foreach (int destination in row.Destinations)
            {
                int count = got.Count(d => d.Destination == destination);
                matched += count;
                doubled[placement[destination]] += Math.Max(0, count - 1);
                lost[placement[destination]] += count == 0 ? 1 : 0;
                mismatched[placement[destination]] += got.Count(d => d.Destination == destination && !AsReplayed(d));
            }
        }

        long all = rows.Sum(r => (long)r.Destinations.Length) + bySeq.Values.Sum(l => (long)l.Count);
        return new TraceNodesMerge(rows, doubled, lost, mismatched, all - matched);
    }
}
