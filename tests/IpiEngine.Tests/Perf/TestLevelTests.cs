using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>Every statistical test refuses a level outside (0, 0.5) with the same sentence, naming the option and the value.</summary>
public class TestLevelTests
{
    public static TheoryData<string, Action> BadLevels => new()
    {
        { "--alpha must be between 0 and 0.5, not 0.7.", () => _ = new SampleTest(new ComparisonOptions { Alpha = 0.7 }) },
        { "--alpha must be between 0 and 0.5, not 0.7.", () => _ = new LaunchTest(alpha: 0.7) },
        { "--alpha must be between 0 and 0.5, not 0.7.", () => _ = new PairedTest(alpha: 0.7) },
        { "--equivalence-alpha must be between 0 and 0.5, not 0.5.", () => _ = new LaunchTest(alpha: 0.01, equivalenceAlpha: 0.5) },
        { "--equivalence-alpha must be between 0 and 0.5, not 0.5.", () => _ = new PairedTest(alpha: 0.01, equivalenceAlpha: 0.5) },
        { "--alpha must be between 0 and 0.5, not 0.", () => _ = new PairedTest(alpha: 0) },
        { "--alpha must be at least 0.0001 (the tests' random relabellings cannot reach a stricter level), not 1E-07.", () => _ = new PairedTest(alpha: 1e-7) },
        { "--alpha must be at least 0.0001 (the tests' random relabellings cannot reach a stricter level), not 5E-05.", () => _ = new LaunchTest(alpha: 0.00005) },
    };

    [Theory]
    [MemberData(nameof(BadLevels))]
    public void A_bad_level_is_refused_in_one_sentence_naming_the_option_and_the_value(string sentence, Action construct)
        => Assert.Equal(sentence, Assert.Throws<PerfInputException>(construct).Message);

    [Fact]
    public void A_level_inside_the_range_is_kept() => Assert.Equal(0.05, TestLevel.Checked(0.05, "--alpha"));
}
