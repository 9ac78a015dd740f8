using System.CommandLine;
using IpiEngine.Perf;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Cli;

/// <summary>The options of the commands that run alternating launches: <c>compare-commits</c> and <c>aa</c>.</summary>
internal sealed class LaunchRunOptions
{
    public Option<string[]> Filter { get; } = PerfRecordCommand.FilterOption();

    public Option<int?> Rounds { get; } = new("--rounds")
    {
        Description = "Rounds to run (interleaved: 4 pairs of blocks of A and B per benchmark; launches: one launch of A and one of B; the order flips every round); interleaved runs end sooner once every benchmark is settled. Default: as many as fit the budget, at least the fewest that can decide.",
    };

    public Option<string> Budget { get; } = new("--budget")
    {
        Description = "Time the run may take, builds included, when --rounds is not given (15m, 90s, 1h).",
        DefaultValueFactory = _ => "15m",
    };

    public Option<bool> SeparateBuilds { get; } = new("--separate-builds")
    {
        Description = "Build A and B in separate clones even when they are the same commit.",
    };

    public Option<string> Mode { get; } = new("--mode")
    {
        Description = "How a round measures: 'interleaved' (blocks of A and B alternating a fraction of a second apart, each pair in its own worker processes, compared pair by pair) or 'launches' (one BenchmarkDotNet launch per side, compared launch by launch).",
        DefaultValueFactory = _ => "interleaved",
    };

    public Option<string> Placement { get; } = new("--placement")
    {
        Description = "Interleaved mode: 'fixed' (each build runs in its one code placement: identical code compares exactly, but a change that moves a loop's placement shows as that build's speed) or 'vary' (every round moves both sides' placement by a new seed: a change's placement effect averages out over rounds, which takes more rounds).",
        DefaultValueFactory = _ => "fixed",
    };

    public Option<bool> KeepSettled { get; } = new("--keep-settled")
    {
        Description = "Interleaved mode: run every benchmark in every round. By default, from the fewest rounds that can decide on, a benchmark found the same on both sides (or slower or faster at alpha 0.001) is settled and later rounds run only the undecided ones (the run ends when none is left, or after 20 rounds when only warn-only cross-thread ones are).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Mode);
        command.Options.Add(Placement);
        command.Options.Add(Filter);
        command.Options.Add(Rounds);
        command.Options.Add(Budget);
        command.Options.Add(SeparateBuilds);
        command.Options.Add(KeepSettled);
    }

    /// <summary>The run settings, checked before anything is built; the fewest rounds are the test's for the mode.</summary>
    /// <exception cref="PerfInputException">A bad --rounds, --budget or --mode.</exception>
    public AlternatingRunner.Settings Read(ParseResult parse, IpiEngine.Perf.Comparison.RunComparer comparer, IReadOnlyDictionary<string, string>? diffEnvironment = null, IReadOnlyDictionary<string, string>? baseEnvironment = null)
    {
        ArgumentNullException.ThrowIfNull(comparer);
        var mode = (parse.GetValue(Mode) ?? "interleaved").Trim().ToLowerInvariant() switch
        {
            "interleaved" => AlternatingRunner.RoundMode.Interleaved,
            "launches" => AlternatingRunner.RoundMode.Launches,
            var other => throw new PerfInputException($"--mode must be 'interleaved' or 'launches', not '{other}'."),
        };
        bool vary = (parse.GetValue(Placement) ?? "fixed").Trim().ToLowerInvariant() switch
        {
            "fixed" => false,
            "vary" => true,
            var other => throw new PerfInputException($"--placement must be 'fixed' or 'vary', not '{other}'."),
        };
        int? rounds = parse.GetValue(Rounds);
        if (rounds is < 1 or > 1000)
        {
            throw new PerfInputException($"--rounds must be between 1 and 1000, not {rounds}.");
        }
        return new AlternatingRunner.Settings
        {
            Filters = parse.GetValue(Filter) ?? [],
            Rounds = rounds,
            Budget = BudgetPlanner.ParseBudget(parse.GetValue(Budget) ?? "15m"),
            DiffEnvironment = diffEnvironment ?? new Dictionary<string, string>(),
            BaseEnvironment = baseEnvironment ?? new Dictionary<string, string>(),
            Mode = mode,
            VaryPlacement = vary,
            WorkerCommand = PerfWorkerCommand.CommandLine(),
            MinimumRounds = mode == AlternatingRunner.RoundMode.Interleaved ? comparer.MinimumPairedRounds : comparer.MinimumLaunches,
            // A launch runs BenchmarkDotNet's own filters, which cannot pick one parameter case: launches run everything.
            SettleWith = mode == AlternatingRunner.RoundMode.Interleaved && !parse.GetValue(KeepSettled) ? comparer : null,
        };
    }
}
