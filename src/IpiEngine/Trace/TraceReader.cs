using IpiEngine.Apic;

namespace IpiEngine.Trace;

/// <summary>
/// Reads the trace files described in <c>traces/README.md</c>: <c>vcpus.csv</c>, <c>exits.csv</c> and
/// <c>deliveries.csv</c>. Every problem is a <see cref="TraceFormatException"/> naming the file and line.
/// </summary>
internal static class TraceReader
{
    /// <summary>The header of <c>vcpus.csv</c>.</summary>
    public const string VcpusHeader = "vcpu,apic_id";

    /// <summary>The header of <c>exits.csv</c>.</summary>
    public const string ExitsHeader = "seq,src_vcpu,reg,value,dest_id";

    /// <summary>The registers an exit row may name, each with its width: the xAPIC MMIO registers take 32-bit writes, the MSRs 64-bit.</summary>
    private static readonly (ushort Register, bool Is32Bit)[] KnownRegisters =
    [
        (ApicRegister.IcrLow, true), (ApicRegister.IcrHigh, true), (ApicRegister.Id, true), (ApicRegister.Ldr, true),
        (ApicRegister.Dfr, true), (ApicRegister.Svr, true), (ApicRegister.X2Icr, false), (ApicRegister.X2SelfIpi, false),
        (ApicRegister.X2Svr, false), (ApicRegister.ApicBase, false),
    ];

    /// <summary>
    /// Reads <c>vcpus.csv</c>: the initial APIC ID of each vCPU, which must be numbered 0, 1, 2... in order; two vCPUs
    /// may not share an APIC ID.
    /// </summary>
    public static uint[] ReadVcpus(string path)
    {
        using CsvTable table = CsvTable.Open(path, VcpusHeader);
        return ReadVcpus(table, path);
    }

    /// <summary>Reads <c>vcpus.csv</c> text from <paramref name="reader"/>, naming it <paramref name="name"/> in errors.</summary>
    public static uint[] ReadVcpus(TextReader reader, string name)
    {
        using CsvTable table = CsvTable.Open(reader, name, VcpusHeader);
        return ReadVcpus(table, name);
    }

    /// <summary>Reads <c>exits.csv</c> into records (tag = seq), checking registers, vCPU numbers and that seq ascends.</summary>
    public static ExitRecord[] ReadExits(string path, int vcpuCount)
    {
        using CsvTable table = CsvTable.Open(path, ExitsHeader);
        return ReadExits(table, vcpuCount);
    }

    /// <summary>Reads <c>exits.csv</c> text from <paramref name="reader"/>, naming it <paramref name="name"/> in errors.</summary>
    public static ExitRecord[] ReadExits(TextReader reader, string name, int vcpuCount)
    {
        using CsvTable table = CsvTable.Open(reader, name, ExitsHeader);
        return ReadExits(table, vcpuCount);
    }

    /// <summary>Reads <c>deliveries.csv</c>.</summary>
    public static List<DeliveryRow> ReadDeliveries(string path)
    {
        using CsvTable table = CsvTable.Open(path, DeliveryCsv.Header);
        return ReadDeliveries(table);
    }

    /// <summary>Reads <c>deliveries.csv</c> text from <paramref name="reader"/>, naming it <paramref name="name"/> in errors.</summary>
    public static List<DeliveryRow> ReadDeliveries(TextReader reader, string name)
    {
        using CsvTable table = CsvTable.Open(reader, name, DeliveryCsv.Header);
        return ReadDeliveries(table);
    }

    private static uint[] ReadVcpus(CsvTable table, string name)
    {
        var ids = new List<uint>();
        var lineOfId = new Dictionary<uint, int>();
        while (table.Next())
        {
            long vcpu = table.Decimal(0, "vcpu");
            if (vcpu != ids.Count)
            {
                throw table.Error($"vCPU {vcpu} out of order: vCPUs are numbered densely from 0, expected {ids.Count}");
            }

            if (vcpu > ushort.MaxValue)
            {
                throw table.Error($"vCPU {vcpu} out of range: at most {ushort.MaxValue + 1} vCPUs");
            }

            uint id = (uint)table.Hex(1, "apic_id", 32);
            if (!lineOfId.TryAdd(id, table.Line))
            {
                throw table.Error($"APIC ID 0x{id:x} of vCPU {vcpu} is already vCPU {ids.IndexOf(id)}'s (line {lineOfId[id]}): every vCPU needs its own");
            }

            ids.Add(id);
        }

        if (ids.Count == 0)
        {
            throw new TraceFormatException(name, table.Line, "no vCPUs listed");
        }

        return [.. ids];
    }

    private static ExitRecord[] ReadExits(CsvTable table, int vcpuCount)
    {
        var records = new List<ExitRecord>();
        long previous = -1;
        while (table.Next())
        {
            long seq = Ascending(table, previous);
            previous = seq;
            long source = table.Decimal(1, "src_vcpu");
            if (source >= vcpuCount)
            {
                throw table.Error($"vCPU {source} out of range: the trace has {vcpuCount} vCPUs (0 to {vcpuCount - 1})");
            }

            ulong register = table.Hex(2, "reg", 32);
            int known = register > ushort.MaxValue ? -1 : Array.FindIndex(KnownRegisters, k => k.Register == register);
            if (known < 0)
            {
                throw table.Error($"unknown register 0x{register:x3}");
            }

            ulong value = table.Hex(3, "value", 64);
            if (value > uint.MaxValue && KnownRegisters[known].Is32Bit)
            {
                // An MMIO write is 32 bits: the upper half would be dropped without a word (the trace is malformed).
                throw table.Error($"value 0x{value:x} does not fit register 0x{register:x3}, a 32-bit xAPIC MMIO register");
            }

            uint destination = (uint)table.Hex(4, "dest_id", 32);
            records.Add(new ExitRecord((ushort)source, (ushort)register, value, destination, (ulong)seq, 0));
        }

        return [.. records];
    }

    private static List<DeliveryRow> ReadDeliveries(CsvTable table)
    {
        var rows = new List<DeliveryRow>();
        var destinations = new List<int>();
        long previous = -1;
        while (table.Next())
        {
            long seq = Ascending(table, previous);
            previous = seq;
            long source = table.Decimal(1, "src_vcpu");
            if (source > ushort.MaxValue)
            {
                throw table.Error($"vCPU {source} out of range");
            }

            string mode = table.Field(2);
            if (!DeliveryRow.IsKnownMode(mode))
            {
                throw table.Error($"unknown delivery_mode '{mode}'");
            }

            byte vector = (byte)table.Hex(3, "vector", 8);
            destinations.Clear();
            string list = table.Field(4);
            if (list.Length > 0)
            {
                foreach (string item in list.Split('|'))
                {
                    if (!int.TryParse(item, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int vcpu)
                        || vcpu > ushort.MaxValue)
                    {
                        throw table.Error($"bad dest_cpus '{list}': expected vCPU numbers separated by '|'");
                    }

                    if (destinations.Count > 0 && vcpu <= destinations[^1])
                    {
                        throw table.Error($"dest_cpus '{list}' not strictly ascending");
                    }

                    destinations.Add(vcpu);
                }
            }

            rows.Add(new DeliveryRow(seq, (int)source, mode, vector, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(destinations)));
        }

        return rows;
    }

    /// <summary>The row's seq, which must be greater than the previous row's (rows are in the order they happened).</summary>
    private static long Ascending(CsvTable table, long previous)
    {
        long seq = table.Decimal(0, "seq");
        if (seq <= previous)
        {
            throw table.Error(seq == previous
                ? $"seq {seq} appears twice: every row needs its own"
                : $"seq {seq} after seq {previous}: rows must be in ascending seq order");
        }

        return seq;
    }
}
