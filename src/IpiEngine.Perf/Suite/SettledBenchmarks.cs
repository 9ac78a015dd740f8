using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Where the rounds of an interleaved run go once some benchmarks are decided. A benchmark is settled when the
/// comparison of every round so far calls it the same on both sides (time inside its threshold by the equivalence
/// test at <see cref="RunComparer.InterimEquivalenceShare"/> of its level, allocation unchanged), or calls it slower
/// or faster at <see cref="RunComparer.InterimAlpha"/>; the later
/// rounds run only the others. A round of a few undecided benchmarks is much shorter than a round of all, so within
/// the same budget the noisy benchmarks get several times the rounds they would get if every round ran everything.
/// </summary>
/// <remarks>
/// <para>
/// Slower and faster are looked at after every round, so each look must be strict: at 0.001 (the Haybittle–Peto rule
/// of interim analyses), against the final look's 0.01. A sign-flip test reaches 0.001 from 10 rounds on, so a clear
/// regression settles then, and one that is not clear keeps running to the end, where it gets its verdict at the
/// usual alpha over every round. "Same" is repeated as often, and a shift just beyond the threshold passes each look's
/// equivalence test with a chance of up to its level: at the final look's 0.05 after every round, those chances added
/// up to about 16% over 20 rounds, so the interim looks ask for a tenth of it (0.005, from 8 rounds on) and the run's
/// chance stays close to the final look's 5%. The final verdict of a settled benchmark, taken over the rounds it ran, is
/// the one that settled it (a stricter level passed is a looser one passed).
/// </para>
/// <para>
/// A benchmark that more rounds cannot decide is settled too: one on a single side (added or removed by the commit),
/// one that failed on a side. One whose time is the same but whose allocation changed runs on under the warn-only cap.
/// </para>
/// <para>
/// Nothing is settled before the fewest rounds that can decide at all: until then every round runs every selected
/// benchmark.
/// </para>
/// </remarks>
internal static class SettledBenchmarks
{
    /// <summary>
    /// The rounds after which a run whose undecided benchmarks are all warn-only (cross-thread, not gated) ends: as
    /// many as a run of whole rounds (<see cref="BudgetPlanner.MostRounds"/>) gives every benchmark. Their verdict
    /// cannot change the run's (a warn-only slowdown warns, and their "not enough evidence" does not make a run
    /// inconclusive), so rounds beyond that would spend the budget on a warning. Measured on 2026-12-03, one
    /// cross-thread benchmark ran alone from round 21 to 54 of an A/A run and stayed undecided.
    /// </summary>
    public const int WarnOnlyRounds = BudgetPlanner.MostRounds;

    /// <summary>
    /// How far past <see cref="WarnOnlyRounds"/> a warn-only benchmark about to be decided may run: one whose rounds say
    /// that at most this many more would give a verdict goes on alone (with any others as close) for at most this many
    /// more rounds, within the budget. Measured on 2026-12-04: in two 25% detection runs a cross-thread benchmark
    /// (<c>EngineFused</c>, then <c>Channels</c>, +22% over 20 rounds at p 0.02) was cut by the cap "about 1 more round"
    /// from being called slower. In a later series of seven (e8fbb6b) the cap cut <c>Channels</c> again, +19% at p 0.017
    /// and "about 7 more", past the 5 rounds then allowed; the estimate is optimistic when a few rounds sit far off, so
    /// the allowance is 10. A benchmark whose rounds say more than that (<c>ProbeSinglePost</c>: about 22 and 32 more)
    /// or that no number would decide (<c>EnginePerStage</c>) still stops at the cap.
    /// </summary>
    public const int WarnOnlyExtraRounds = 10;

    /// <summary>
    /// The benchmarks of <paramref name="ranLastRound"/> that are still open after comparing every
    /// round so far (<paramref name="a"/> against <paramref name="b"/>), in the order given, and which of them are
    /// warn-only.
    /// </summary>
    public static Settlement Settle(RunComparer comparer, RecordSet a, RecordSet b, IReadOnlyList<string> ranLastRound)
    {
        ArgumentNullException.ThrowIfNull(comparer);
        ArgumentNullException.ThrowIfNull(ranLastRound);
        var report = comparer.Compare(a, b);
        var compared = report.Benchmarks;
        // Decided at the interim levels (every round's look is one of many); the final look's report says the rest.
        var settled = comparer.ForInterimSameLooks().Compare(a, b).Benchmarks
            .Where(c => c.Time is TimeOutcome.Same && !c.AllocationChanged || c.Time is TimeOutcome.Failed)
            .Select(c => c.Id)
            .ToHashSet(StringComparer.Ordinal);
        settled.UnionWith(comparer.ForInterimLooks().Compare(a, b).Benchmarks
            .Where(c => c.Time is TimeOutcome.Slower or TimeOutcome.Faster)
            .Select(c => c.Id));

        // Nothing more rounds could decide: a benchmark on one side only (a commit added or removed it) has nothing to be
        // compared with, and one that failed on a side every round so far has no samples there. Open, either ran alone
        // until the budget was spent.
        settled.UnionWith(report.New);
        settled.UnionWith(report.Missing);

        // Time found the same but allocation changed: the time is decided, and more rounds only re-read the allocation's
        // median. Such a benchmark runs on as a warn-only one does, so it cannot hold the run past WarnOnlyRounds.
        var warnOnly = compared.Where(c => !c.TimeGated || (c.Time == TimeOutcome.Same && c.AllocationChanged)).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var close = compared.Where(c => !c.TimeGated && c.MoreRounds is <= WarnOnlyExtraRounds).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var decided = compared.Where(c => c.Time is TimeOutcome.Slower or TimeOutcome.Faster).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var open = ranLastRound.Where(id => !settled.Contains(id)).ToList();
        return new Settlement(
            open,
            open.Where(warnOnly.Contains).ToList(),
            open.Where(close.Contains).ToList(),
            open.Where(id => warnOnly.Contains(id) && !decided.Contains(id)).ToList());
    }

    /// <summary>The open benchmarks of <see cref="Settle"/> alone.</summary>
    public static IReadOnlyList<string> Open(RunComparer comparer, RecordSet a, RecordSet b, IReadOnlyList<string> ranLastRound)
        => Settle(comparer, a, b, ranLastRound).Open;

    /// <summary>
    /// The filters that run exactly <paramref name="ids"/> in a worker: each id as a glob that
    /// matches only itself (<c>*</c> and <c>?</c> would be wildcards, so an id holding one is
    /// matched through <c>?</c> in that place; such an id could match a neighbour too, which only
    /// runs one more benchmark).
    /// </summary>
    public static IReadOnlyList<string> FiltersFor(IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return ids.Select(id => id.Replace('*', '?')).ToList();
    }
}

/// <summary>
/// After a round: the benchmarks still undecided, which of those are warn-only (their slowdown only warns), which of
/// the warn-only ones are close to a verdict (at most <see cref="SettledBenchmarks.WarnOnlyExtraRounds"/> more rounds
/// by their rounds' spread), and which of the warn-only ones the final look would still leave undecided (those it
/// would call slower or faster are open only because the interim looks ask for more).
/// </summary>
internal sealed record Settlement(
    IReadOnlyList<string> Open, IReadOnlyList<string> WarnOnly, IReadOnlyList<string> CloseWarnOnly, IReadOnlyList<string> UndecidedWarnOnly)
{
    /// <summary>Whether only warn-only benchmarks are open and they had <see cref="SettledBenchmarks.WarnOnlyRounds"/>.</summary>
    public bool PastWarnOnlyCap(int round) => Open.Count > 0 && Open.Count == WarnOnly.Count && round >= SettledBenchmarks.WarnOnlyRounds;

    /// <summary>
    /// Whether the run ends after round <paramref name="round"/>: nothing is open; or only warn-only benchmarks are and
    /// they had <see cref="SettledBenchmarks.WarnOnlyRounds"/>, and either the extra rounds are spent or there is nothing
    /// left to run them for. <paramref name="extending"/> says the rounds already run only the warn-only benchmarks found
    /// close when the cap was reached. Before that, the run ends when none is close. After it, it ends when the final
    /// look decides every one of them: an admitted benchmark keeps its extra rounds even when a later round's estimate
    /// asks for more than are left (measured: one more round at +25% moved "about 7 more" to "about 11 more"), and one
    /// the final look calls slower ends the run with that verdict rather than risk it in more rounds.
    /// </summary>
    public bool EndsRun(int round, bool extending) => Open.Count == 0
        || (PastWarnOnlyCap(round)
            && (round >= SettledBenchmarks.WarnOnlyRounds + SettledBenchmarks.WarnOnlyExtraRounds
                || (extending ? UndecidedWarnOnly.Count == 0 : CloseWarnOnly.Count == 0)));
}
