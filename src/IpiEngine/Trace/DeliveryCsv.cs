using System.Globalization;
using System.Text;

namespace IpiEngine.Trace;

/// <summary>
/// Writes the exact <c>deliveries.csv</c> text of the reference traces: decimal seq and vCPUs, the vector as
/// lower-case <c>0x%02x</c>, destinations ascending and <c>|</c>-separated (empty when none), <c>\n</c> line ends.
/// </summary>
internal static class DeliveryCsv
{
    /// <summary>The header line.</summary>
    public const string Header = "seq,src_vcpu,delivery_mode,vector,dest_cpus";

    /// <summary>One row as text (no newline).</summary>
    public static string Format(DeliveryRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var text = new StringBuilder(48);
        Append(text, row);
        return text.ToString();
    }

    /// <summary>Writes the header and every row.</summary>
    public static void Write(TextWriter writer, IEnumerable<DeliveryRow> rows)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(rows);
        writer.Write(Header);
        writer.Write('\n');
        var line = new StringBuilder(64);
        foreach (DeliveryRow row in rows)
        {
            line.Clear();
            Append(line, row);
            line.Append('\n');
            writer.Write(line);
        }
    }

    private static void Append(StringBuilder text, DeliveryRow row)
    {
        CultureInfo invariant = CultureInfo.InvariantCulture;
        text.Append(row.Seq.ToString(invariant)).Append(',')
            .Append(row.SourceVcpu.ToString(invariant)).Append(',')
            .Append(row.Mode).Append(",0x")
            .Append(row.Vector.ToString("x2", invariant)).Append(',');
        ReadOnlySpan<int> destinations = row.Destinations;
        for (int i = 0; i < destinations.Length; i++)
        {
            if (i > 0)
            {
                text.Append('|');
            }

            text.Append(destinations[i].ToString(invariant));
        }
    }
}
