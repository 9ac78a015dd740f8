namespace IpiEngine.Trace;

/// <summary>
/// Compares produced rows with reference rows, joined by <c>seq</c>: how many match, how many differ (a different row,
/// or a row only one side has), and the first differences in seq order.
/// </summary>
internal sealed class DeliveryComparison
{
    private DeliveryComparison(int matching, int differing, IReadOnlyList<string> firstDifferences)
    {
        Matching = matching;
        Differing = differing;
        FirstDifferences = firstDifferences;
    }

    /// <summary>Rows identical on both sides.</summary>
    public int Matching { get; }

    /// <summary>Seqs whose rows differ or exist on one side only.</summary>
    public int Differing { get; }

    /// <summary>Whether every row matches.</summary>
    public bool Identical => Differing == 0;

    /// <summary>The first differences, each described in one line.</summary>
    public IReadOnlyList<string> FirstDifferences { get; }

    /// <summary>Compares; both lists are expected seq-ascending (as <c>deliveries.csv</c> is), otherwise rows still join by seq.</summary>
    public static DeliveryComparison Compare(IReadOnlyList<DeliveryRow> expected, IReadOnlyList<DeliveryRow> actual, int keepDifferences = 10)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        var expectedBySeq = new Dictionary<long, DeliveryRow>(expected.Count);
        foreach (DeliveryRow row in expected)
        {
            expectedBySeq.TryAdd(row.Seq, row);
        }

        var seen = new HashSet<long>();
        var differences = new List<(long Seq, string Text)>();
        int matching = 0;
        int differing = 0;
        foreach (DeliveryRow row in actual)
        {
            seen.Add(row.Seq);
            if (!expectedBySeq.TryGetValue(row.Seq, out DeliveryRow? reference))
            {
                differing++;
                differences.Add((row.Seq, $"seq {row.Seq}: not in the reference, produced '{row}'"));
            }
            else if (reference.Equals(row))
            {
                matching++;
            }
            else
            {
                differing++;
                differences.Add((row.Seq, $"seq {row.Seq}: expected '{reference}', produced '{row}'"));
            }
        }

        foreach (DeliveryRow row in expected)
        {
            if (!seen.Contains(row.Seq))
            {
                differing++;
                differences.Add((row.Seq, $"seq {row.Seq}: expected '{row}', produced nothing"));
            }
        }

        differences.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        var first = new List<string>(Math.Min(keepDifferences, differences.Count));
        for (int i = 0; i < differences.Count && i < keepDifferences; i++)
        {
            first.Add(differences[i].Text);
        }

        return new DeliveryComparison(matching, differing, first);
    }
}
