using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Measures two commits fairly on a noisy machine: builds each in a temporary clone, then runs their
/// suites alternately (A, B, A, B, ...) so that both see the same machine states, and returns each
/// side's records with the calibration of every round.
/// </summary>
/// <remarks>
/// A temporary clone (<c>git clone --shared</c>, objects borrowed from the repository) serves as the
/// temporary worktree: unlike <c>git worktree add</c> it registers nothing in the user's
/// repository, so a killed run leaves nothing behind there.
/// </remarks>
public sealed class AlternatingRunner(GitRepository git, TextWriter log)
{
    /// <summary>One side's records and one line of calibration per round.</summary>
    public sealed record Outcome(RecordSet A, RecordSet B, IReadOnlyList<string> Rounds);

    /// <summary>Builds both commits and runs <paramref name="rounds"/> alternating rounds.</summary>
    /// <exception cref="PerfInputException">A commit is unknown, predates the suite, or does not build.</exception>
    public Outcome Run(string revisionA, string revisionB, SuiteProfile profile, IReadOnlyList<string> filters, int rounds)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (rounds < 1)
        {
            throw new PerfInputException($"--rounds must be at least 1, not {rounds}.");
        }
        var commitA = git.Describe(revisionA, dirty: false);
        var commitB = git.Describe(revisionB, dirty: false);
        var scratch = Directory.CreateTempSubdirectory("ipi-perf-commits-");
        try
        {
            var runnerA = new SuiteRunner(Checkout(commitA.Sha, Path.Combine(scratch.FullName, "a")), log);
            var runnerB = new SuiteRunner(Checkout(commitB.Sha, Path.Combine(scratch.FullName, "b")), log);
            runnerA.Build();
            runnerB.Build();
            var recordsA = new List<PerfRecord>();
            var recordsB = new List<PerfRecord>();
            var roundLines = new List<string>();
            for (int round = 1; round <= rounds; round++)
            {
                log.WriteLine($"round {round}/{rounds}: A = {commitA.ShortSha}");
                var (a, _) = runnerA.Run(profile, filters, Path.Combine(scratch.FullName, $"run-{round}-a"), commitA, round);
                log.WriteLine($"round {round}/{rounds}: B = {commitB.ShortSha}");
                var (b, _) = runnerB.Run(profile, filters, Path.Combine(scratch.FullName, $"run-{round}-b"), commitB, round);
                recordsA.Add(a);
                recordsB.Add(b);
                roundLines.Add($"round {round}: A {CalibrationSummary.Of([a])}; B {CalibrationSummary.Of([b])}");
            }
            return new Outcome(
                new RecordSet($"A {revisionA} ({commitA.ShortSha})", recordsA, []),
                new RecordSet($"B {revisionB} ({commitB.ShortSha})", recordsB, []),
                roundLines);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private string Checkout(string sha, string folder)
    {
        log.WriteLine($"checking out {sha[..12]} into {folder}");
        var clone = ExternalCommand.Run("git", ["clone", "--quiet", "--shared", "--no-checkout", git.Root, folder], git.Root);
        var checkout = clone.ExitCode == 0
            ? ExternalCommand.Run("git", ["-C", folder, "checkout", "--quiet", "--detach", sha], git.Root)
            : clone;
        if (checkout.ExitCode != 0)
        {
            throw new PerfInputException($"Cannot check out {sha[..12]} into a temporary clone: {checkout.Error.Trim()}");
        }
        return folder;
    }
}
