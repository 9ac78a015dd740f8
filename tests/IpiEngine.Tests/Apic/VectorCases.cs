using IpiEngine.Trace;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// Loads test vectors kept as three CSV files whose rows carry a leading <c>case</c> column (the spec's
/// <c>vectors.*.csv</c>, the QEMU-behaviour <c>qemu/qemu.*.csv</c>) and replays one case.
/// </summary>
internal sealed class VectorCases
{
    private readonly Dictionary<string, (string Vcpus, string Exits, string Deliveries)> _cases;

    private VectorCases(Dictionary<string, (string, string, string)> cases) => _cases = cases;

    /// <summary>The case names, in file order.</summary>
    public IReadOnlyCollection<string> Names => _cases.Keys;

    /// <summary>Reads <c>PREFIX.vcpus.csv</c>, <c>PREFIX.exits.csv</c> and <c>PREFIX.deliveries.csv</c> under <c>tests/IpiEngine.Tests/Vectors/DIRECTORY</c>.</summary>
    public static VectorCases Load(string directory, string prefix)
    {
        string Path(string kind) => RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", directory, $"{prefix}.{kind}.csv");
        var vcpus = Split(Path("vcpus"));
        var exits = Split(Path("exits"));
        var deliveries = Split(Path("deliveries"));
        var cases = new Dictionary<string, (string, string, string)>(StringComparer.Ordinal);
        foreach (var (name, text) in vcpus.Rows)
        {
            cases[name] = (text, exits.Rows.GetValueOrDefault(name, exits.Header), deliveries.Rows.GetValueOrDefault(name, deliveries.Header));
        }

        return new VectorCases(cases);
    }

    /// <summary>Replays one case from the reset state: the expected rows and the rows the resolver produced, as text.</summary>
    public (string[] Expected, string[] Actual) Replay(string name)
    {
        var (vcpus, exits, deliveries) = _cases[name];
        uint[] ids = TraceReader.ReadVcpus(new StringReader(vcpus), name + ".vcpus");
        var records = TraceReader.ReadExits(new StringReader(exits), name + ".exits", ids.Length);
        var expected = TraceReader.ReadDeliveries(new StringReader(deliveries), name + ".deliveries");
        ReplayResult result = SequentialReplay.Run(ids, records);
        return (expected.Select(r => r.ToString()).ToArray(), result.Rows.Select(r => r.ToString()).ToArray());
    }

    /// <summary>Splits a file by its leading <c>case</c> column into per-case texts with the remaining header.</summary>
    private static (string Header, Dictionary<string, string> Rows) Split(string file)
    {
        string[] lines = File.ReadAllLines(file);
        string header = lines[0][(lines[0].IndexOf(',', StringComparison.Ordinal) + 1)..] + "\n";
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            int comma = line.IndexOf(',', StringComparison.Ordinal);
            string name = line[..comma];
            rows[name] = rows.GetValueOrDefault(name, header) + line[(comma + 1)..] + "\n";
        }

        return (header, rows);
    }
}
