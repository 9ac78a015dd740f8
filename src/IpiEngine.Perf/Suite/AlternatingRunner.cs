using System.Diagnostics;
using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Git;
using IpiEngine.Perf.Interleave;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Measures two commits fairly on a noisy machine: builds each in a temporary clone, then runs
/// launches of their suites alternately, A B, B A, A B, ... (<see cref="LaunchSchedule"/>), each
/// launch one process that runs every selected benchmark once with the probe before and after
/// each benchmark, and returns one record per launch, so that each launch's median is one
/// observation of <see cref="LaunchTest"/>. Prints progress (launch k of n, ETA) and fits the
/// rounds into a time budget (<see cref="BudgetPlanner"/>).
/// </summary>
/// <remarks>
/// A temporary clone (<c>git clone --shared</c>, objects borrowed from the repository) serves as the
/// temporary worktree: unlike <c>git worktree add</c> it registers nothing in the user's
/// repository, so a killed run leaves nothing behind there.
/// </remarks>
public sealed class AlternatingRunner(GitRepository git, TextWriter log)
{
    /// <summary>How one round measures both sides.</summary>
    public enum RoundMode
    {
        /// <summary>Two worker processes, blocks of A and B alternating a fraction of a second apart (<see cref="InterleavedRound"/>).</summary>
        Interleaved,

        /// <summary>One BenchmarkDotNet launch of every selected benchmark per side, A then B or B then A.</summary>
        Launches,
    }

    /// <summary>
    /// Each side's records (one per launch) and one line of calibration per round; <paramref name="Interrupted"/> when
    /// <see cref="Settings.StopRequested"/> ended the rounds before their plan, with <paramref name="RoundsPlanned"/> the
    /// plan at that moment; <paramref name="NotRun"/>, one entry per benchmark a round left out on both sides because no
    /// fresh diff worker could start (<see cref="InterleavedRound.NotRun"/>), as "round N: id".
    /// </summary>
    public sealed record Outcome(RecordSet A, RecordSet B, IReadOnlyList<string> Rounds, bool Interrupted = false, int RoundsPlanned = 0,
        IReadOnlyList<string>? NotRun = null)
    {
        /// <summary>Rounds that finished: each one gave both sides a record.</summary>
        public int RoundsRun => A.Records.Count;
    }

    /// <summary>What to run, and for how long.</summary>
    public sealed record Settings
    {
        /// <summary>The job of one launch.</summary>
        public SuiteProfile Profile { get; init; } = SuiteProfile.CompareLaunch;

        /// <summary>BenchmarkDotNet filters (empty: all).</summary>
        public IReadOnlyList<string> Filters { get; init; } = [];

        /// <summary>Rounds to run; null plans them from <see cref="Budget"/>.</summary>
        public int? Rounds { get; init; }

        /// <summary>Time the whole run may take, builds included, when the rounds are planned.</summary>
        public TimeSpan Budget { get; init; } = BudgetPlanner.DefaultBudget;

        /// <summary>Fewest rounds a plan runs: the launches per side the test needs for a verdict at all.</summary>
        public int MinimumRounds { get; init; } = 5;

        /// <summary>Environment variables for B's launches only (the benchmark-only slowdown switch).</summary>
        public IReadOnlyDictionary<string, string> DiffEnvironment { get; init; } = new Dictionary<string, string>();

        /// <summary>
        /// Environment variables for A's launches only: the same switch, off (<see cref="SuiteSlowdown.Unslowed"/>), so that
        /// both sides start with the same variables and read them through the same code.
        /// </summary>
        public IReadOnlyDictionary<string, string> BaseEnvironment { get; init; } = new Dictionary<string, string>();

        /// <summary>How a round measures: two interleaved worker processes (the default), or one BenchmarkDotNet launch per side.</summary>
        public RoundMode Mode { get; init; } = RoundMode.Interleaved;

        /// <summary>
        /// Interleaved mode: move each round's code placement by a seed both sides share
        /// (<see cref="CodeLayout"/>), so that a change's effect on placement is drawn anew every round
        /// instead of being the same in all; off, each build runs in its one placement.
        /// </summary>
        public bool VaryPlacement { get; init; }

        /// <summary>The command line that starts a benchmark worker (<c>dotnet ipi.dll perf worker</c>); needed by <see cref="RoundMode.Interleaved"/>.</summary>
        public IReadOnlyList<string> WorkerCommand { get; init; } = [];

        /// <summary>
        /// Interleaved mode: from the fewest rounds that can decide on, the comparison that settles
        /// decided benchmarks (<see cref="SettledBenchmarks"/>), so that later rounds run only the undecided
        /// ones and the run ends once none is left; null: every round runs every benchmark.
        /// </summary>
        public RunComparer? SettleWith { get; init; }

        /// <summary>
        /// Asked after every round: true ends the rounds there (the user pressed Ctrl-C), and the outcome holds the
        /// rounds that finished, marked <see cref="Outcome.Interrupted"/>. A round is the unit that pairs A with B, so
        /// the one in progress always finishes. Null: the rounds run to their plan.
        /// </summary>
        public Func<bool>? StopRequested { get; init; }
    }

    /// <summary>The built suites of both sides, in a scratch folder deleted on dispose.</summary>
    public sealed class Builds : IDisposable
    {
        internal Builds(DirectoryInfo scratch, CommitInfo a, CommitInfo b, SuiteRunner runnerA, SuiteRunner runnerB, TimeSpan buildTime, string labelA, string labelB)
        {
            Scratch = scratch;
            CommitA = a;
            CommitB = b;
            RunnerA = runnerA;
            RunnerB = runnerB;
            BuildTime = buildTime;
            LabelA = labelA;
            LabelB = labelB;
        }

        internal DirectoryInfo Scratch { get; }
        internal SuiteRunner RunnerA { get; }
        internal SuiteRunner RunnerB { get; }
        internal string LabelA { get; }
        internal string LabelB { get; }

        /// <summary>The baseline commit.</summary>
        public CommitInfo CommitA { get; }

        /// <summary>The commit under test.</summary>
        public CommitInfo CommitB { get; }

        /// <summary>How long checking out and building took.</summary>
        public TimeSpan BuildTime { get; }

        /// <summary>Deletes the clones.</summary>
        public void Dispose() => Scratch.Delete(recursive: true);
    }

    /// <summary>Checks out and builds both commits; the same commit is built once unless <paramref name="separateBuilds"/>.</summary>
    /// <exception cref="PerfInputException">A commit is unknown, predates the suite, or does not build.</exception>
    public Builds Build(string revisionA, string revisionB, bool separateBuilds)
    {
        var commitA = git.Describe(revisionA, dirty: false);
        var commitB = git.Describe(revisionB, dirty: false);
        var clock = Stopwatch.StartNew();
        var scratch = Directory.CreateTempSubdirectory("ipi-perf-commits-");
        try
        {
            var runnerA = new SuiteRunner(Checkout(commitA.Sha, Path.Combine(scratch.FullName, "a")), log);
            runnerA.Build();
            var runnerB = runnerA;
            if (commitA.Sha != commitB.Sha || separateBuilds)
            {
                runnerB = new SuiteRunner(Checkout(commitB.Sha, Path.Combine(scratch.FullName, "b")), log);
                runnerB.Build();
            }
            else
            {
                log.WriteLine($"A and B are both {commitA.ShortSha}: one build serves both sides (--separate-builds builds it twice)");
            }
            return new Builds(scratch, commitA, commitB, runnerA, runnerB, clock.Elapsed,
                $"A {revisionA} ({commitA.ShortSha})", $"B {revisionB} ({commitB.ShortSha}){(ReferenceEquals(runnerA, runnerB) ? "" : commitA.Sha == commitB.Sha ? ", a separate build" : "")}");
        }
        catch
        {
            scratch.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>Runs the rounds (fixed, or planned from the budget after the first round) on <paramref name="builds"/>.</summary>
    /// <param name="builds">The built suites.</param>
    /// <param name="settings">Filters, rounds or budget, B's environment.</param>
    /// <param name="spentBefore">Time already gone by (builds), counted against the budget.</param>
    /// <exception cref="PerfInputException">A launch ran no benchmark at all.</exception>
    public Outcome Run(Builds builds, Settings settings, TimeSpan spentBefore)
    {
        ArgumentNullException.ThrowIfNull(builds);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Rounds is < 1)
        {
            throw new PerfInputException($"--rounds must be at least 1, not {settings.Rounds}.");
        }
        var clock = Stopwatch.StartNew();
        var baseEnvironment = settings.BaseEnvironment;
        var recordsA = new List<PerfRecord>();
        var recordsB = new List<PerfRecord>();
        var roundLines = new List<string>();
        int rounds = settings.Rounds ?? settings.MinimumRounds;
        IReadOnlyList<string> filters = settings.Filters;
        bool focused = false; // later rounds run only the undecided benchmarks
        bool extending = false; // past the warn-only cap, the rounds run only the warn-only benchmarks then close to a verdict
        string slowed = settings.DiffEnvironment.Count == 0 ? "" : $" [{string.Join(", ", settings.DiffEnvironment.Select(p => $"{p.Key}={p.Value}"))}]";
        bool interrupted = false;
        var notRun = new List<string>();
        for (int round = 1; round <= rounds; round++)
        {
            if (round > 1 && settings.StopRequested?.Invoke() == true)
            {
                interrupted = Interrupt($"after round {round - 1} of {rounds}", round - 1, rounds);
                break;
            }
            PerfRecord? a = null, b = null;
            if (settings.Mode == RoundMode.Interleaved)
            {
                if (settings.WorkerCommand.Count == 0)
                {
                    throw new PerfInputException("The interleaved mode needs the benchmark worker's command line.");
                }
                var roundClock = Stopwatch.StartNew();
                var interleaved = new InterleavedRound(settings.WorkerCommand, log, settings.VaryPlacement);
                bool allRan;
                try
                {
                    (a, b, allRan) = interleaved.Run(
                        new InterleavedRound.SideSetup(builds.RunnerA.Assembly, baseEnvironment, builds.CommitA, "A"),
                        new InterleavedRound.SideSetup(builds.RunnerB.Assembly, settings.DiffEnvironment, builds.CommitB, "B"),
                        filters, round);
                }
                catch (PerfToolException) when (settings.StopRequested?.Invoke() == true)
                {
                    // A terminal's Ctrl-C reaches the workers too: they died of the stop, and the round is no observation.
                    interrupted = Interrupt($"during round {round} of {rounds}, whose workers it stopped", round - 1, rounds);
                    break;
                }
                recordsA.Add(a);
                recordsB.Add(b);
                notRun.AddRange(interleaved.NotRun.Select(id => $"round {round}: {id}"));
                var lastRound = roundClock.Elapsed;
                // Once the rounds shrink, the last round's time says more about the next ones than the average.
                var eta = focused ? lastRound * (rounds - round) : BudgetPlanner.Remaining(clock.Elapsed, round, rounds);
                log.WriteLine($"round {round} of {rounds} (A {builds.CommitA.ShortSha} and B {builds.CommitB.ShortSha}{slowed} interleaved): {BudgetPlanner.Duration(roundClock.Elapsed)}, {a.Benchmarks.Count} benchmark(s){(allRan ? "" : ", some failed")}{(interleaved.NotRun.Count == 0 ? "" : $", {interleaved.NotRun.Count} not run")}; ETA {BudgetPlanner.Duration(eta)}");
                roundLines.Add($"round {round} (interleaved, blocks A B B A, order flipping per benchmark): A {CalibrationSummary.Of([a])}; B {CalibrationSummary.Of([b])}");
                if (settings.SettleWith is { } settler && round >= settings.MinimumRounds)
                {
                    var ran = b.Benchmarks.Select(x => x.Id).ToList();
                    var settlement = SettledBenchmarks.Settle(settler, new RecordSet(builds.LabelA, recordsA, []), new RecordSet(builds.LabelB, recordsB, []), ran);
                    var open = settlement.Open;
                    if (open.Count == 0)
                    {
                        log.WriteLine($"settled: after round {round} every benchmark is decided (the same within its threshold, or clearly slower or faster); the run ends here");
                        roundLines.Add($"the run ended after round {round}: every benchmark was decided");
                        break;
                    }
                    if (settlement.EndsRun(round, extending))
                    {
                        log.WriteLine($"settled: after round {round} every gated benchmark is decided; the {open.Count} still undecided only warn (cross-thread, not gated) and had {round} rounds{(extending ? ", their extra ones included" : ", as many as a run of whole rounds gives them")}, so the run ends here: {string.Join(", ", open)}");
                        roundLines.Add($"the run ended after round {round}: every gated benchmark was decided; {open.Count} warn-only benchmark(s) stayed undecided");
                        break;
                    }
                    if (settlement.PastWarnOnlyCap(round) && !extending)
                    {
                        // Once: the later rounds run only these, and the open set shrinks only by settling.
                        extending = true;
                        log.WriteLine($"settled: after round {round} every gated benchmark is decided and the warn-only ones had {round} rounds; {settlement.CloseWarnOnly.Count} of them would likely be decided in a few more, so the next rounds (at most {SettledBenchmarks.WarnOnlyRounds + SettledBenchmarks.WarnOnlyExtraRounds - round}) run only those: {string.Join(", ", settlement.CloseWarnOnly)}");
                        roundLines.Add($"after round {round} the rounds ran only the {settlement.CloseWarnOnly.Count} warn-only benchmark(s) close to a verdict");
                        filters = SettledBenchmarks.FiltersFor(settlement.CloseWarnOnly);
                        focused = true;
                    }
                    else if (open.Count < ran.Count)
                    {
                        log.WriteLine($"settled: after round {round}, {ran.Count - open.Count} more benchmark(s) are decided (the same, or clearly slower or faster); the next rounds run the {open.Count} undecided: {string.Join(", ", open)}");
                        roundLines.Add($"after round {round} the rounds ran only the {open.Count} benchmark(s) still undecided");
                        filters = SettledBenchmarks.FiltersFor(open);
                        focused = true;
                    }
                }
                rounds = Replan(settings, spentBefore, clock, round, rounds, focused ? lastRound : null);
                continue;
            }
            var (first, second) = LaunchSchedule.Round(round);
            bool cutShort = false;
            foreach (var side in (ReadOnlySpan<Side>)[first, second])
            {
                bool isA = side == Side.A;
                var commit = isA ? builds.CommitA : builds.CommitB;
                var launchClock = Stopwatch.StartNew();
                var folder = Path.Combine(builds.Scratch.FullName, $"launch-{round}-{side}");
                (PerfRecord? Record, bool AllRan) launch = default;
                try
                {
                    launch = (isA ? builds.RunnerA : builds.RunnerB)
                        .RunLaunch(settings.Profile, settings.Filters, folder, commit, round, isA ? baseEnvironment : settings.DiffEnvironment);
                }
                catch (PerfInputException) when (settings.StopRequested?.Invoke() == true)
                {
                    // A terminal's Ctrl-C reaches the launch's BenchmarkDotNet process too: the launch died of the stop.
                }
                var (record, allRan) = launch;
                if (record is null || (!allRan && settings.StopRequested?.Invoke() == true)) // null: the launch failed after a stop (above)
                {
                    // A launch cut short by the stop is no observation: the round's records go, and the rounds before it stand.
                    if (a is not null)
                    {
                        recordsA.Remove(a);
                    }
                    if (b is not null)
                    {
                        recordsB.Remove(b);
                    }
                    cutShort = true;
                    break;
                }
                Directory.Delete(folder, recursive: true);
                if (isA)
                {
                    a = record;
                    recordsA.Add(record);
                }
                else
                {
                    b = record;
                    recordsB.Add(record);
                }
                int done = recordsA.Count + recordsB.Count;
                var eta = BudgetPlanner.Remaining(clock.Elapsed, done, 2 * rounds);
                log.WriteLine($"launch {done} of {2 * rounds} (round {round}, {side} {commit.ShortSha}{(isA ? "" : slowed)}): {BudgetPlanner.Duration(launchClock.Elapsed)}, {record.Benchmarks.Count} benchmark(s){(allRan ? "" : ", some failed")}; ETA {BudgetPlanner.Duration(eta)}");
            }
            if (cutShort)
            {
                interrupted = Interrupt($"during round {round} of {rounds}, whose launch it cut short", round - 1, rounds);
                break;
            }
            roundLines.Add($"round {round} ({first} then {second}): A {CalibrationSummary.Of([a!])}; B {CalibrationSummary.Of([b!])}");
            rounds = Replan(settings, spentBefore, clock, round, rounds);
        }
        return new Outcome(new RecordSet(builds.LabelA, recordsA, []), new RecordSet(builds.LabelB + slowed, recordsB, []), roundLines, interrupted, rounds, notRun);

        // Says where the stop came and what the comparison stands on; true, for the outcome's flag.
        bool Interrupt(string when, int finished, int planned)
        {
            log.WriteLine($"stopped at the user's request {when}; comparing the {finished} round(s) that finished");
            roundLines.Add($"the run was interrupted after round {finished} of the {planned} planned");
            return true;
        }
    }

    /// <summary>
    /// Without fixed rounds, re-plans them from the budget after each round (printing the plan when it changes). Once
    /// the rounds run only undecided benchmarks, <paramref name="focusedRound"/> (the last round's time) prices the next
    /// ones, and they may go on to <see cref="BudgetPlanner.MostFocusedRounds"/>.
    /// </summary>
    private int Replan(Settings settings, TimeSpan spentBefore, Stopwatch clock, int round, int rounds, TimeSpan? focusedRound = null)
    {
        if (settings.Rounds is not null)
        {
            return rounds;
        }
        var plan = focusedRound is { } last
            ? BudgetPlanner.Plan(settings.Budget, spentBefore + clock.Elapsed, last, round, settings.MinimumRounds, BudgetPlanner.MostFocusedRounds)
            : BudgetPlanner.Plan(settings.Budget, spentBefore + clock.Elapsed, clock.Elapsed / round, round, settings.MinimumRounds);
        if (plan.Rounds != rounds || round == 1)
        {
            log.WriteLine(plan.Line);
        }
        return plan.Rounds;
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
