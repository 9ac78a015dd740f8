using System.Globalization;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Git;

/// <summary>The git facts the perf tools need, read through the <c>git</c> command line.</summary>
public sealed class GitRepository
{
    private GitRepository(string root) => Root = root;

    /// <summary>The repository's top-level folder.</summary>
    public string Root { get; }

    /// <summary>Opens the repository that contains <paramref name="directory"/>.</summary>
    /// <exception cref="PerfInputException">The folder is not inside a git repository.</exception>
    public static GitRepository Open(string directory)
    {
        var outcome = ExternalCommand.Run("git", ["rev-parse", "--show-toplevel"], directory);
        if (outcome.ExitCode != 0)
        {
            throw new PerfInputException($"{directory} is not inside a git repository.");
        }
        return new GitRepository(outcome.Output.Trim());
    }

    /// <summary>The full sha that <paramref name="revision"/> (a sha, branch, tag, HEAD~1, ...) names, or null.</summary>
    public string? TryResolveCommit(string revision)
    {
        ArgumentNullException.ThrowIfNull(revision);
        if (revision.StartsWith('-'))
        {
            return null;
        }
        var outcome = Git("rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}");
        return outcome.ExitCode == 0 ? outcome.Output.Trim() : null;
    }

    /// <summary>The commits of a range such as <c>main~5..main</c>, newest first, or null when git does not accept it.</summary>
    public IReadOnlyList<string>? TryListRange(string range)
    {
        ArgumentNullException.ThrowIfNull(range);
        if (range.StartsWith('-') || !range.Contains("..", StringComparison.Ordinal))
        {
            return null;
        }
        var outcome = Git("rev-list", "--end-of-options", range);
        return outcome.ExitCode == 0
            ? outcome.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : null;
    }

    /// <summary>Sha, subject and committer date of a commit, and whether the working tree is dirty.</summary>
    /// <exception cref="PerfInputException">The commit does not exist.</exception>
    public CommitInfo Describe(string revision, bool dirty)
    {
        var sha = TryResolveCommit(revision) ?? throw new PerfInputException($"No commit named '{revision}' in {Root}.");
        var outcome = Git("log", "-1", "--format=%cI%n%s", sha);
        var lines = outcome.Output.Split('\n', 2);
        DateTimeOffset? date = DateTimeOffset.TryParse(lines[0].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed
            : null;
        return new CommitInfo
        {
            Sha = sha,
            Subject = lines.Length > 1 ? lines[1].Trim() : "",
            CommittedUtc = date,
            Dirty = dirty,
        };
    }

    /// <summary>
    /// True when the working tree differs from HEAD (tracked changes or untracked files), leaving out
    /// <paramref name="ignoredFolder"/> (the results folder, which every record adds to).
    /// </summary>
    public bool IsDirty(string? ignoredFolder = "perf-results")
    {
        var arguments = new List<string> { "status", "--porcelain", "--", "." };
        if (!string.IsNullOrEmpty(ignoredFolder))
        {
            arguments.Add($":(exclude){ignoredFolder}");
        }
        var outcome = ExternalCommand.Run("git", arguments, Root);
        return outcome.ExitCode != 0 || outcome.Output.Trim().Length > 0;
    }

    /// <summary>Runs a git command in the repository.</summary>
    internal ExternalCommand.Outcome Git(params string[] arguments) => ExternalCommand.Run("git", arguments, Root);
}
