namespace IpiEngine.Trace;

/// <summary>
/// Compares produced rows with reference rows, joined by <c>seq</c>: how many match, how many differ (a different row,
/// a row only one side has, or a seq one side has twice), and the first differences in seq order.
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
        var differences = new List<(long Seq, string Text)>();
        int matching = 0;
        int differing = 0;
        foreach (DeliveryRow row in expected)
        {
            if (!expectedBySeq.TryAdd(row.Seq, row))
            {
                // A seq is one exit: a reference that repeats one cannot be matched row for row, and the copy is reported.
                differing++;
                differences.Add((row.Seq, $"seq {row.Seq}: in the reference twice ('{expectedBySeq[row.Seq]}', then '{row}')"));
            }
        }

        var seen = new HashSet<long>();
        foreach (DeliveryRow row in actual)
        {
            if (!seen.Add(row.Seq))
            {
                differing++; // produced twice: a doubled delivery never counts as a match
                differences.Add((row.Seq, $"seq {row.Seq}: produced twice, again '{row}'"));
            }
            else if (!expectedBySeq.TryGetValue(row.Seq, out DeliveryRow? reference))
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

        foreach (DeliveryRow row in expectedBySeq.Values)
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
