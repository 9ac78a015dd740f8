using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// Cases where the spec is silent and the resolver follows QEMU 10.0's userspace APIC (tests/IpiEngine.Tests/Vectors/qemu,
/// described with the QEMU function each follows in qemu.md): each replays to the deliveries QEMU's model gives.
/// </summary>
public class QemuVectorTests
{
    private static readonly Lazy<VectorCases> Cases = new(() => VectorCases.Load("qemu", "qemu"));

    public static TheoryData<string> CaseNames() => new(Cases.Value.Names);

    [Fact]
    public void Every_case_in_the_description_has_rows()
    {
        string description = File.ReadAllText(RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", "qemu", "qemu.md"));
        Assert.Equal(7, Cases.Value.Names.Count);
        Assert.All(Cases.Value.Names, name => Assert.Contains($"| {name} |", description, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_replays_to_the_deliveries_of_qemus_model(string name)
    {
        var (expected, actual) = Cases.Value.Replay(name);
        Assert.Equal(expected, actual);
    }
}
