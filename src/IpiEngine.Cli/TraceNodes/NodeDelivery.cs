using System.Globalization;
using IpiEngine.Apic;
using IpiEngine.Trace;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// One delivery a node of a trace replayed over nodes made (or its kernel served, or its links brought): the firing
/// write's seq, the destination vCPU, and the delivery mode and vector it was delivered with, so the merge
/// (<see cref="TraceNodesMerge"/>) checks what was delivered, not only where.
/// </summary>
internal readonly record struct NodeDelivery(long Seq, int Destination, DeliveryMode Mode, byte Vector)
{
    /// <summary>The header of a node's deliveries file.</summary>
    public const string Header = "seq,dest_vcpu,delivery_mode,vector";

    /// <summary>Writes <paramref name="deliveries"/> as a node's deliveries file (mode names and vectors as in <c>deliveries.csv</c>).</summary>
    public static async Task WriteAsync(string path, IEnumerable<NodeDelivery> deliveries)
    {
        await using var writer = new StreamWriter(path);
        await writer.WriteLineAsync(Header);
        foreach (var d in deliveries)
        {
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{d.Seq},{d.Destination},{DeliveryRow.ModeName(d.Mode)},0x{d.Vector:x2}"));
        }
    }

    /// <summary>Reads a node's deliveries file.</summary>
    /// <exception cref="TraceFormatException">The file is missing or a line is malformed (the message names the file and line).</exception>
    public static List<NodeDelivery> Read(string path)
    {
        using CsvTable table = CsvTable.Open(path, Header);
        var deliveries = new List<NodeDelivery>();
        while (table.Next())
        {
            long seq = table.Decimal(0, "seq");
            long destination = table.Decimal(1, "dest_vcpu");
            if (destination > ushort.MaxValue)
            {
                throw table.Error($"vCPU {destination} out of range");
            }

            string mode = table.Field(2);
            if (!DeliveryRow.TryParseDeliveredMode(mode, out DeliveryMode parsed))
            {
                throw table.Error($"unknown delivery_mode '{mode}'");
            }

            deliveries.Add(new NodeDelivery(seq, (int)destination, parsed, (byte)table.Hex(3, "vector", 8)));
        }

        return deliveries;
    }
}
