using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>Every case of the spec's test vectors (tests/IpiEngine.Tests/Vectors) replays to its expected rows.</summary>
public class SpecVectorTests
{
    private static readonly Lazy<VectorCases> Cases = new(() => VectorCases.Load(".", "vectors"));

    public static TheoryData<string> CaseNames() => new(Cases.Value.Names);

    [Fact]
    public void All_documented_cases_are_present()
        => Assert.True(Cases.Value.Names.Count >= 51, $"only {Cases.Value.Names.Count} cases found");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_replays_to_its_expected_deliveries(string name)
    {
        var (expected, actual) = Cases.Value.Replay(name);
        Assert.Equal(expected, actual);
    }
}
