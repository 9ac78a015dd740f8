using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Where the rounds of an interleaved run go once some benchmarks are decided. A benchmark is settled when the
/// comparison of every round so far calls it the same on both sides (time inside its threshold by the equivalence
/// test, allocation unchanged), or calls it slower or faster at <see cref="RunComparer.InterimAlpha"/>; the later
/// rounds run only the others. A round of a few undecided benchmarks is much shorter than a round of all, so within
/// the same budget the noisy benchmarks get several times the rounds they would get if every round ran everything.
/// </summary>
/// <remarks>
/// <para>
/// Slower and faster are looked at after every round, so each look must be strict: at 0.001 (the Haybittle–Peto rule
/// of interim analyses), against the final look's 0.01. A sign-flip test reaches 0.001 from 10 rounds on, so a clear
/// regression settles then, and one that is not clear keeps running to the end, where it gets its verdict at the
/// usual alpha over every round. "Same" is looked at with the final look's level: repeated looks at "same" can only
/// end a benchmark's rounds early, never turn a shift beyond the threshold into a verdict (such a shift does not pass
/// the equivalence test however often it is asked), and the final verdict of a settled benchmark, taken over the
/// rounds it ran, is the one that settled it.
/// </para>
/// <para>
/// Nothing is settled before the fewest rounds that can decide at all: until then every round runs every selected
/// benchmark.
/// </para>
/// </remarks>
internal static class SettledBenchmarks
{
    /// <summary>
    /// The benchmarks of <paramref name="ranLastRound"/> that are still open after comparing every
    /// round so far (<paramref name="a"/> against <paramref name="b"/>), in the order given.
    /// </summary>
    public static IReadOnlyList<string> Open(RunComparer comparer, RecordSet a, RecordSet b, IReadOnlyList<string> ranLastRound)
    {
        ArgumentNullException.ThrowIfNull(comparer);
        ArgumentNullException.ThrowIfNull(ranLastRound);
        var settled = comparer.Compare(a, b).Benchmarks
            .Where(c => c.Time == TimeOutcome.Same && !c.AllocationChanged)
            .Select(c => c.Id)
            .ToHashSet(StringComparer.Ordinal);
        settled.UnionWith(comparer.ForInterimLooks().Compare(a, b).Benchmarks
            .Where(c => c.Time is TimeOutcome.Slower or TimeOutcome.Faster)
            .Select(c => c.Id));
        return ranLastRound.Where(id => !settled.Contains(id)).ToList();
    }

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
