using System.Runtime.InteropServices;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Records;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Perf.Interleave;

/// <summary>
/// One round of <c>compare-commits</c> in the interleaved mode: a worker process per side and pair
/// (<see cref="BenchmarkWorker"/>), and for every case, blocks of A and B alternating A B B A A B
/// (the order flipping from case to case and round to round), each block a fraction of a second
/// with the core-distance probe between blocks. Each side's record for the round lists, per case,
/// one median per block, the blocks of A and B in pairs that ran next to each other in time.
/// </summary>
/// <remarks>
/// Why blocks and not launches: on this machine a single-threaded loop in one process runs for
/// half a minute at one speed and then, with nothing changed, at another 25% apart (the machine's
/// own state, e.g. what shares its physical core), so two launches of 30 s each land on different
/// levels and only many rounds can separate that from a change. Two blocks a quarter of a second
/// apart almost always share the level, so the ratio within a pair carries the change and little of
/// the machine. A pair whose probe readings are not all in one state (near or far) is left out.
/// The round remains the unit of evidence (<see cref="Comparison.PairedTest"/>): its pairs share the
/// machine's state of that minute.
/// <para>
/// Why a process per pair (<see cref="WorkersPerSide"/>): even with tiering off and address-space
/// randomization off, identical code runs at a level of its process. Five processes running the six
/// <c>BruteForceMatcher</c> cases gave <c>X2ApicClusterMulticast</c> 530, 548, 582, 589 and 596 ns,
/// each steady over its four blocks (2026-12-03, far). With one process per side a round then
/// carries one draw of that level per side, 10-15% apart; with a process pair per pair the round's
/// median over its pairs takes the middle of four draws. (Rounds in which all four pairs of a case
/// move alike remain, and are not explained: perf-results/README.md.)
/// </para>
/// <para>
/// What is held equal between the two sides of a pair: the time (a quarter second apart), the CPU
/// (a single-threaded case runs on the same logical CPU on both sides) and the code placement
/// (tiering off; with <c>varyPlacement</c> a seed per round, the same on both sides,
/// <see cref="CodeLayout"/>). Data placement is not: each block sets up a fresh instance, so its
/// placement is drawn anew per block and the median over a round's pairs averages it (one instance
/// kept for the whole round made a round carry one draw per side: 8 of 21 benchmarks "same" in an
/// A/A run, against 13-14 of 21 with fresh blocks); a fresh instance also keeps a cross-thread
/// case's threads from running during the other side's block.
/// </para>
/// </remarks>
internal sealed class InterleavedRound(IReadOnlyList<string> workerCommand, TextWriter log, bool varyPlacement = false)
{
    /// <summary>The job of one side in one round: written into its record, compared only with the same job.</summary>
    public static SuiteProfile Profile { get; } = new()
    {
        Name = "interleaved",
        LaunchCount = 1,
        WarmupCount = 1,
        IterationCount = IterationsPerBlock,
        IterationTimeMs = IterationMs,
        Environment = new Dictionary<string, string>(SuiteProfile.CompareLaunch.Environment, StringComparer.Ordinal)
        {
            // Every method compiled once, fully optimized, on first call, in call order: each process
            // lays its code out the same way. With tiering on, when the background compiler finishes
            // decides where a method lands, and that alone put DestinationMap(X2ApicBroadcast) at
            // 131 ns in one process and 160 ns in the next, both running identical code.
            ["DOTNET_TieredCompilation"] = "0",
        },
    };

    /// <summary>Pairs of blocks per case per round.</summary>
    public const int PairsPerRound = 4;

    /// <summary>Worker processes per side per round: pair <c>p</c> runs in the processes numbered <c>p % WorkersPerSide</c> of each side.</summary>
    public const int WorkersPerSide = PairsPerRound;

    /// <summary>Measured iterations per block (after one unmeasured).</summary>
    public const int IterationsPerBlock = 3;

    /// <summary>Target length of one iteration, ms.</summary>
    public const int IterationMs = 50;

    /// <summary>Length of the pilot block that warms a case up in each new worker, ms.</summary>
    public const int PilotMs = 300;

    private readonly CoreDistanceProbe _probe = new();
    private string? _diffDown; // this round: why no fresh diff worker could start (the later benchmarks are not run), or null
    private readonly List<string> _notRun = [];

    /// <summary>
    /// The benchmarks the last <see cref="Run(SideSetup, SideSetup, IReadOnlyList{string}, int)"/> left out on both
    /// sides: those after a diff worker died and no fresh one could start in its place. Empty when every one ran.
    /// </summary>
    public IReadOnlyList<string> NotRun => _notRun;

    /// <summary>The side of one worker: its suite, environment, commit and label.</summary>
    internal sealed record SideSetup(string AssemblyPath, IReadOnlyDictionary<string, string> Environment, CommitInfo Commit, string Label);

    /// <summary>Runs round <paramref name="round"/> and returns each side's record.</summary>
    /// <exception cref="PerfInputException">A worker cannot start or load its suite.</exception>
    /// <exception cref="PerfToolException">
    /// A worker dies before it listed its cases, or a base (A) worker dies later (a diff worker that dies fails its
    /// benchmark instead, and a fresh one takes its place for the benchmarks after it; if none can start, those are
    /// <see cref="NotRun"/>).
    /// </exception>
    public (PerfRecord A, PerfRecord B, bool AllRan) Run(SideSetup a, SideSetup b, IReadOnlyList<string> filters, int round)
    {
        var started = DateTimeOffset.UtcNow;
        _diffDown = null;
        _notRun.Clear();
        // With varied placement, one seed for both sides of the round and another in the next round (CodeLayout).
        int? layoutSeed = varyPlacement ? unchecked((round * 7919) + 17) : null;
        var workersA = new List<WorkerProcess>(WorkersPerSide);
        var workersB = new List<WorkerProcess>(WorkersPerSide);
        WorkerProcess Launch(SideSetup side) => WorkerProcess.Launch(workerCommand, side.AssemblyPath, filters, EnvironmentOf(side), side.Label, log, layoutSeed);
        try
        {
            for (int w = 0; w < WorkersPerSide; w++)
            {
                workersA.Add(Launch(a));
                workersB.Add(Launch(b));
            }
            // All eight start up at once, then each waits on its stdin: the round pays the slowest start-up, not their
            // sum (a third of a second each here; a round of one benchmark went from 6-7 s to 5-6 s). Nothing is
            // measured until every one has answered.
            foreach (var worker in workersA.Concat(workersB))
            {
                worker.ReadCases();
            }
            return Run(workersA, workersB, () => Launch(b), a, b, filters, round, started);
        }
        finally
        {
            var all = workersA.Concat(workersB).ToList();
            foreach (var worker in all)
            {
                worker.RequestQuit(); // all exit at once; each Dispose below then only waits
            }
            foreach (var worker in all)
            {
                worker.Dispose();
            }
        }
    }

    private (PerfRecord A, PerfRecord B, bool AllRan) Run(List<WorkerProcess> workersA, List<WorkerProcess> workersB, Func<WorkerProcess> launchB,
        SideSetup a, SideSetup b, IReadOnlyList<string> filters, int round, DateTimeOffset started)
    {
        // Every worker of a side loaded the same suite with the same filters: the first one's case list is the side's.
        WorkerProcess workerA = workersA[0], workerB = workersB[0];
        if (workerA.Cases.Count == 0 && workerB.Cases.Count == 0)
        {
            throw new PerfInputException($"No benchmark matches the filter ({string.Join(" ", filters)}) on either side.");
        }
        var resultsA = new List<BenchmarkResult>();
        var resultsB = new List<BenchmarkResult>();
        var ids = workerA.Cases.Select(c => c.Id).Concat(workerB.Cases.Select(c => c.Id)).Distinct(StringComparer.Ordinal).ToList();
        bool allRan = true;
        var placements = new CpuPlacements();
        for (int k = 0; k < ids.Count; k++)
        {
            int caseA = IndexOf(workerA, ids[k]), caseB = IndexOf(workerB, ids[k]);
            if (_diffDown is not null && caseB >= 0)
            {
                // No diff worker to pair it with: neither side runs it, so the round pairs only what both measured.
                _notRun.Add(ids[k]);
                allRan = false;
                continue;
            }
            var sides = new List<Side>(2);
            if (caseA >= 0)
            {
                sides.Add(new Side(workersA, caseA, workerA.Cases[caseA], Relaunch: null));
            }
            if (caseB >= 0)
            {
                sides.Add(new Side(workersB, caseB, workerB.Cases[caseB], Relaunch: launchB));
            }
            // A then B in even steps, B then A in odd ones: the order flips per case and per round.
            if (sides.Count == 2 && (round + k) % 2 == 1)
            {
                sides.Reverse();
            }
            // A single-threaded case runs on one logical CPU on both sides: the one that ran a spin loop
            // steadier just before (the two CPUs of this machine are not equally quiet at every moment:
            // CpuSteadiness), or, when neither is clearly steadier, the first in even steps and the second
            // in odd ones.
            var cpus = ThreadAffinity.TwoAllowedCpus();
            bool crossThread = sides.Exists(s => SuiteCategories.IsCrossThread(s.Case.Categories));
            int cpu = -1;
            if (!crossThread && cpus is { } two)
            {
                (cpu, bool tie) = Calibration.CpuSteadiness.Choose(two.First, two.Second, tieBreak: (round + k) % 2 == 0 ? two.First : two.Second);
                placements.Count(cpu, tie);
            }
            var measured = Measure(sides, cpu);
            allRan &= measured.All(m => m.Error is null);
            foreach (var side in sides)
            {
                var result = measured[sides.IndexOf(side)].Result;
                (ReferenceEquals(side.Workers, workersA) ? resultsA : resultsB).Add(result);
            }
        }
        if (placements.Describe() is { } placed)
        {
            log.WriteLine($"round {round}: {placed}");
        }
        if (_notRun.Count > 0)
        {
            log.WriteLine($"round {round}: {_notRun.Count} benchmark(s) not run on either side, {_diffDown}: {string.Join(", ", _notRun)}");
        }
        return (Record(a.Commit, started, round, resultsA), Record(b.Commit, started, round, resultsB), allRan);
    }

    /// <summary>Where a round's single-threaded cases ran, for its log line.</summary>
    private sealed class CpuPlacements
    {
        private readonly SortedDictionary<int, int> _byCpu = [];
        private int _ties;

        public void Count(int cpu, bool tie)
        {
            _byCpu[cpu] = _byCpu.GetValueOrDefault(cpu) + 1;
            _ties += tie ? 1 : 0;
        }

        public string? Describe() => _byCpu.Count == 0 ? null
            : $"single-threaded benchmarks ran on {string.Join(", ", _byCpu.Select(p => $"CPU {p.Key} x{p.Value}"))} "
              + $"(each on the CPU whose spin loop ran steadier just before; {_ties} close call(s) alternated)";
    }

    private static Dictionary<string, string> EnvironmentOf(SideSetup side)
    {
        var variables = new Dictionary<string, string>(Profile.Environment, StringComparer.Ordinal);
        foreach (var (name, value) in side.Environment)
        {
            variables[name] = value;
        }
        return variables;
    }

    private static int IndexOf(WorkerProcess worker, string id)
    {
        for (int i = 0; i < worker.Cases.Count; i++)
        {
            if (worker.Cases[i].Id == id)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// Pilots the case on each side (in its first worker: the pilot sizes the iterations), then runs
    /// the pairs, each in its own workers: blocks in the order first, second, second, first, ... with
    /// a probe reading before each block and after the last.
    /// </summary>
    private List<(BenchmarkResult Result, string? Error)> Measure(List<Side> sides, int cpu)
    {
        // A diff benchmark that takes its worker down (a stack overflow, a fail-fast, a crash in unsafe code) is that
        // benchmark failing in the diff, a regression: not the tool failing, which the base's worker dying still is.
        // A fresh worker takes the dead one's place, so that the benchmarks after it are measured, not failed for it.
        WorkerReply Ask(Side side, WorkerProcess worker, WorkerRequest request)
        {
            try
            {
                return worker.Send(request);
            }
            catch (Exception e) when (side.Relaunch is not null && e is PerfToolException or IOException)
            {
                Replace(side, worker);
                return new WorkerReply(Error: $"its worker died: {e.Message}{(_diffDown is null ? "" : $"; {_diffDown}")}");
            }
        }

        var calls = new long[sides.Count];
        var errors = new string?[sides.Count];
        for (int s = 0; s < sides.Count; s++)
        {
            var reply = Ask(sides[s], sides[s].Workers[0], new WorkerRequest("pilot", sides[s].Index, WarmupMs: PilotMs, IterationMs: IterationMs, Cpu: cpu));
            errors[s] = reply.Error;
            calls[s] = reply.Calls;
        }
        // readings[i] is taken before block i; the last one after the last block.
        var blocks = new List<(int Side, IReadOnlyList<double>? Samples, long Allocated)>();
        var readings = new List<double?>();
        for (int pair = 0; pair < PairsPerRound; pair++)
        {
            for (int step = 0; step < sides.Count; step++)
            {
                int s = pair % 2 == 0 ? step : sides.Count - 1 - step;
                readings.Add(_probe.Measure().RoundTripNs);
                if (errors[s] is not null)
                {
                    blocks.Add((s, null, 0));
                    continue;
                }
                // A worker's first block of a case compiles it in the block's unmeasured iteration (tiering is off).
                var reply = Ask(sides[s], sides[s].Workers[pair % sides[s].Workers.Count], new WorkerRequest("block", sides[s].Index, Iterations: IterationsPerBlock, Calls: calls[s], Cpu: cpu));
                errors[s] ??= reply.Error;
                blocks.Add((s, reply.Error is null ? reply.SamplesNs : null, reply.AllocatedBytesPerOp));
            }
        }
        readings.Add(_probe.Measure().RoundTripNs);

        // A pair is kept when every reading around its blocks is in one state; then the majority state wins.
        var thresholds = CoreDistanceThresholds.Default;
        int perPair = sides.Count;
        var pairStates = new CoreDistanceState[PairsPerRound];
        for (int pair = 0; pair < PairsPerRound; pair++)
        {
            var states = readings.Skip(pair * perPair).Take(perPair + 1).Select(r => thresholds.Classify(r)).Distinct().ToList();
            pairStates[pair] = states.Count == 1 ? states[0] : CoreDistanceState.Mixed;
        }
        var kept = pairStates.Where(s => s != CoreDistanceState.Mixed).GroupBy(s => s).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault()?.Key;
        var outcome = new List<(BenchmarkResult, string?)>(sides.Count);
        for (int s = 0; s < sides.Count; s++)
        {
            var side = sides[s];
            // With no pair in one state, every block is kept and the case is labelled mixed: the test leaves it out, as changed, not failed.
            var mine = Enumerable.Range(0, PairsPerRound)
                .Where(pair => kept is null || pairStates[pair] == kept)
                .Select(pair => blocks[(pair * perPair) + (pair % 2 == 0 ? s : perPair - 1 - s)])
                .ToList();
            var samples = mine.Select(b => b.Samples is null ? double.NaN : Median(b.Samples)).ToList();
            bool failed = errors[s] is not null || samples.Count == 0 || samples.Exists(double.IsNaN);
            if (errors[s] is { } error)
            {
                log.WriteLine($"{side.Case.Id}: {error}");
            }
            var sorted = samples.Where(double.IsFinite).Order().ToList();
            outcome.Add((new BenchmarkResult
            {
                Id = side.Case.Id,
                Categories = side.Case.Categories,
                Failed = failed,
                Samples = failed ? [] : samples,
                Median = failed ? null : Quantile(sorted, 0.5),
                Q1 = failed ? null : Quantile(sorted, 0.25),
                Q3 = failed ? null : Quantile(sorted, 0.75),
                AllocatedBytesPerOp = failed ? null : mine.Max(b => b.Allocated),
                Calibration = new BenchmarkCalibration
                {
                    BeforeNs = readings[0],
                    AfterNs = readings[^1],
                    State = kept ?? CoreDistanceState.Mixed,
                },
            }, errors[s]));
        }
        return outcome;
    }

    /// <summary>
    /// Puts a fresh worker in the place of <paramref name="dead"/>, which the benchmark of <paramref name="side"/> took
    /// down. When none can start, says why in <see cref="_diffDown"/>: the benchmarks after it are then not run.
    /// </summary>
    private void Replace(Side side, WorkerProcess dead)
    {
        int slot = side.Workers.IndexOf(dead);
        dead.Dispose();
        try
        {
            // In the list before it is asked anything: the round's cleanup disposes it even when it fails to start.
            side.Workers[slot] = side.Relaunch!();
            side.Workers[slot].ReadCases();
        }
        catch (Exception e) when (e is PerfToolException or PerfInputException or IOException)
        {
            _diffDown = $"no fresh diff worker could start after {side.Case.Id} took down diff worker {slot + 1} ({e.Message})";
            log.WriteLine(_diffDown);
            return;
        }
        log.WriteLine($"{side.Case.Id} took down diff worker {slot + 1}; a fresh one runs the benchmarks after it");
    }

    private static double Median(IReadOnlyList<double> values) => Quantile(values.Order().ToList(), 0.5);

    private static double Quantile(List<double> sorted, double q)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        double position = q * (sorted.Count - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Count - 1);
        return sorted[low] + ((sorted[high] - sorted[low]) * (position - low));
    }

    private static PerfRecord Record(CommitInfo commit, DateTimeOffset started, int round, List<BenchmarkResult> results) => new()
    {
        Commit = commit,
        Machine = MachineIdentity.Current(),
        Run = new RunInfo
        {
            StartedUtc = started,
            BenchmarkDotNet = "",
            Runtime = RuntimeInformation.FrameworkDescription,
            Job = Profile,
            Round = round,
        },
        Benchmarks = results,
    };

    /// <summary>
    /// One side of one case: its workers, the case's index there (the same in each), and the case; for the diff,
    /// <paramref name="Relaunch"/> starts a worker to replace one that died (null for the base, whose worker dying ends the run).
    /// </summary>
    private sealed record Side(List<WorkerProcess> Workers, int Index, WorkerCase Case, Func<WorkerProcess>? Relaunch);
}
