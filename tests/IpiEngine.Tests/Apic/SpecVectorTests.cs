using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>Every case of the spec's test vectors (tests/IpiEngine.Tests/Vectors) replays to its expected rows.</summary>
public class SpecVectorTests
{
    private static readonly Lazy<Dictionary<string, (string Vcpus, string Exits, string Deliveries)>> Cases = new(LoadCases);

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (string name in Cases.Value.Keys)
        {
            data.Add(name);
        }

        return data;
    }

    [Fact]
    public void All_documented_cases_are_present()
        => Assert.True(Cases.Value.Count >= 51, $"only {Cases.Value.Count} cases found");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_replays_to_its_expected_deliveries(string name)
    {
        var (vcpus, exits, deliveries) = Cases.Value[name];
        uint[] ids = TraceReader.ReadVcpus(new StringReader(vcpus), name + ".vcpus");
        var records = TraceReader.ReadExits(new StringReader(exits), name + ".exits", ids.Length);
        var expected = TraceReader.ReadDeliveries(new StringReader(deliveries), name + ".deliveries");

        ReplayResult result = SequentialReplay.Run(ids, records);

        Assert.Equal(expected.Select(r => r.ToString()), result.Rows.Select(r => r.ToString()));
    }

    /// <summary>Splits the three vector files by their leading <c>case</c> column into per-case trace texts.</summary>
    private static Dictionary<string, (string, string, string)> LoadCases()
    {
        var vcpus = Split("vectors.vcpus.csv");
        var exits = Split("vectors.exits.csv");
        var deliveries = Split("vectors.deliveries.csv");
        var cases = new Dictionary<string, (string, string, string)>(StringComparer.Ordinal);
        foreach (var (name, text) in vcpus.Rows)
        {
            cases[name] = (text, exits.Rows.GetValueOrDefault(name, exits.Header), deliveries.Rows.GetValueOrDefault(name, deliveries.Header));
        }

        return cases;
    }

    private static (string Header, Dictionary<string, string> Rows) Split(string file)
    {
        string[] lines = File.ReadAllLines(RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", file));
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
