using IpiEngine.Perf.Records;
using Xunit;
using static IpiEngine.Tests.Perf.SyntheticRecords;

namespace IpiEngine.Tests.Perf;

/// <summary>
/// The messages and exit codes of <c>compare-commits</c> and <c>aa</c> (every bad input is refused
/// before anything is built), and the drift caveat of <c>compare</c>.
/// </summary>
public sealed class PerfCommitsCliTests : IDisposable
{
    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public void Dispose() => _folder.Dispose();

    private static string RepositoryRoot => PerfFixtures.RepositoryRoot;

    private static (int ExitCode, string Output, string Error) Run(params string[] args) => PerfFixtures.RunCli(args);

    private static void AssertOneSentence(int exit, string error, string mentions)
    {
        Assert.Equal(2, exit);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Contains(mentions, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--rounds", "0", "--rounds")]
    [InlineData("--budget", "soon", "--budget")]
    [InlineData("--threshold", "5", "--threshold")]
    [InlineData("--cross-noise", "fast", "--cross-noise")]
    [InlineData("--alpha", "0.9", "--alpha")]
    [InlineData("--format", "yaml", "yaml")]
    [InlineData("--mode", "random", "--mode")]
    [InlineData("--placement", "shuffled", "--placement")]
    public void Compare_commits_refuses_bad_options_in_one_sentence_before_building(string option, string value, string mentions)
    {
        var (exit, _, error) = Run("perf", "compare-commits", "HEAD", "HEAD", "--repo", RepositoryRoot, option, value);
        AssertOneSentence(exit, error, mentions);
        Assert.DoesNotContain("building", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--runs", "0", "--runs")]
    [InlineData("--slowdown", "10", "--slowdown")]
    [InlineData("--slowdown", "-5%", "--slowdown")]
    [InlineData("--rounds", "-1", "--rounds")]
    public void Aa_refuses_bad_options_in_one_sentence_before_building(string option, string value, string mentions)
    {
        var (exit, _, error) = Run("perf", "aa", "HEAD", "--repo", RepositoryRoot, option, value);
        AssertOneSentence(exit, error, mentions);
    }

    [Fact]
    public void Aa_with_an_unknown_commit_exits_2_in_one_sentence()
    {
        var (exit, _, error) = Run("perf", "aa", "no-such-commit-2", "--repo", RepositoryRoot, "--runs", "1");
        AssertOneSentence(exit, error, "no-such-commit-2");
    }

    [Fact]
    public void Aa_and_compare_commits_explain_themselves_in_help()
    {
        var (exit, output, _) = Run("perf", "aa", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--slowdown", output, StringComparison.Ordinal);
        Assert.Contains("--separate-builds", output, StringComparison.Ordinal);
        var (commitsExit, commitsHelp, _) = Run("perf", "compare-commits", "--help");
        Assert.Equal(0, commitsExit);
        Assert.Contains("--budget", commitsHelp, StringComparison.Ordinal);
        Assert.Contains("--cross-threshold", commitsHelp, StringComparison.Ordinal);
        Assert.Contains("--mode", commitsHelp, StringComparison.Ordinal);
        Assert.Contains("interleaved", commitsHelp, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_of_stored_records_says_it_cannot_separate_drift_from_change_and_points_to_compare_commits()
    {
        var store = new RecordStore(_folder.FullName);
        var basePath = store.Save(Record("aaa", Benchmark("Bench.X", Samples(100, 15, 1))));
        var diffPath = store.Save(Record("bbb", Benchmark("Bench.X", Samples(100, 15, 2))));
        foreach (var format in (string[])["text", "markdown", "json"])
        {
            var (exit, output, _) = Run("perf", "compare", "--base", basePath, "--diff", diffPath, "--format", format);
            Assert.Equal(0, exit);
            Assert.Contains("cannot separate drift", output, StringComparison.Ordinal);
            Assert.Contains("ipi perf compare-commits", output, StringComparison.Ordinal);
        }
    }
}
