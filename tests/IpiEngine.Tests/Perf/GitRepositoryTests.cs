using System.Diagnostics;
using IpiEngine.Perf;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;
using Xunit;

namespace IpiEngine.Tests.Perf;

/// <summary>Dirty detection and commit lookup on a throw-away repository.</summary>
public sealed class GitRepositoryTests : IDisposable
{
    private readonly TempFolder _folder = PerfFixtures.TempFolder();

    public GitRepositoryTests()
    {
        RunGit("init", "--quiet");
        File.WriteAllText(_folder.File("a.txt"), "one");
        RunGit("add", "a.txt");
        RunGit("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "First commit");
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_fresh_commit_is_clean_and_described()
    {
        var git = GitRepository.Open(_folder.FullName);
        Assert.False(git.IsDirty());
        var commit = git.Describe("HEAD", dirty: false);
        Assert.Matches("^[0-9a-f]{40}$", commit.Sha);
        Assert.Equal("First commit", commit.Subject);
        Assert.NotNull(commit.CommittedUtc);
    }

    [Fact]
    public void A_changed_or_new_file_makes_the_tree_dirty()
    {
        var git = GitRepository.Open(_folder.FullName);
        File.WriteAllText(_folder.File("a.txt"), "two");
        Assert.True(git.IsDirty());
        RunGit("checkout", "--quiet", "--", "a.txt");
        Assert.False(git.IsDirty());
        File.WriteAllText(_folder.File("new.cs"), "class C {}");
        Assert.True(git.IsDirty());
    }

    [Fact]
    public void New_records_in_the_results_folder_do_not_make_the_tree_dirty()
    {
        var git = GitRepository.Open(_folder.FullName);
        Directory.CreateDirectory(_folder.File("perf-results/runs/m"));
        File.WriteAllText(_folder.File("perf-results/runs/m/20260101T000000Z_0123456789ab.json"), "{}");
        Assert.False(git.IsDirty());
    }

    [Fact]
    public void An_unknown_revision_resolves_to_nothing_and_describing_it_is_an_input_error()
    {
        var git = GitRepository.Open(_folder.FullName);
        Assert.Null(git.TryResolveCommit("no-such-branch"));
        Assert.Null(git.TryResolveCommit("--all"));
        Assert.Throws<PerfInputException>(() => git.Describe("deadbeefdeadbeef", dirty: false));
    }

    [Fact]
    public void A_folder_outside_any_repository_is_an_input_error()
    {
        using var outside = PerfFixtures.TempFolder();
        // The temp folder is not under a repository on any machine this runs on.
        Assert.Throws<PerfInputException>(() => GitRepository.Open(outside.FullName));
    }

    [Fact]
    public void A_range_selects_the_records_of_its_commits_as_a_rolling_baseline_and_leaves_dirty_ones_out()
    {
        var git = GitRepository.Open(_folder.FullName);
        var first = git.TryResolveCommit("HEAD")!;
        File.WriteAllText(_folder.File("a.txt"), "two");
        RunGit("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-am", "Second commit");
        var second = git.TryResolveCommit("HEAD")!;
        Assert.Equal([second], git.TryListRange("HEAD~1..HEAD"));
        Assert.Null(git.TryListRange("HEAD"));

        var store = new RecordStore(_folder.File("perf-results"));
        store.Save(SyntheticRecords.Record(first, SyntheticRecords.Benchmark("B.X", SyntheticRecords.Samples(100, 15, 1))));
        store.Save(SyntheticRecords.Record(second, SyntheticRecords.Benchmark("B.X", SyntheticRecords.Samples(100, 15, 2))));
        store.Save(SyntheticRecords.Record(second, SyntheticRecords.Machine, IpiEngine.Perf.Suite.SuiteProfile.Full, dirty: true, SyntheticRecords.Benchmark("B.X", SyntheticRecords.Samples(100, 15, 3))));
        var selector = new RecordSelector(store, git);

        var lastOne = selector.Select("HEAD~1..HEAD", isBaseline: true);
        var record = Assert.Single(lastOne.Records);
        Assert.Equal(second, record.Commit.Sha);
        Assert.Single(lastOne.LeftOut);
        Assert.Equal(2, selector.Select("HEAD~1", isBaseline: true).Records.Count + selector.Select("HEAD", isBaseline: true).Records.Count);
        Assert.Throws<PerfInputException>(() => selector.Select("HEAD..HEAD", isBaseline: true));
    }

    private void RunGit(params string[] arguments)
    {
        var info = new ProcessStartInfo("git") { WorkingDirectory = _folder.FullName, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info)!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
