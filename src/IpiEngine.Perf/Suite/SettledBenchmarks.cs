using IpiEngine.Perf.Comparison;
using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Suite;

/// <summary>
/// Where the rounds of an interleaved run go once some benchmarks are decided: a benchmark the
/// comparison already calls the same on both sides (time within its threshold by the equivalence
/// test, allocation unchanged) is settled, and the later rounds run only the others. A round of
/// a few undecided benchmarks is much shorter than a round of all, so within the same budget the
/// noisy benchmarks get several times the rounds they would get if every round ran everything.
/// </summary>
/// <remarks>
/// <para>
/// Only "same" settles. A benchmark found slower or faster keeps running to the end, so that its
/// verdict is taken once, over every round, as without settling: the slower and faster tests are
/// not looked at again and again, which would raise their false-alarm rate above alpha. Looking
/// at "same" after every round can only end a benchmark's rounds early; it never turns a
/// difference into a verdict (a shift beyond the threshold does not pass the equivalence test).
/// </para>
/// <para>
/// Nothing is settled before the fewest rounds that can decide at all: until then every round runs
/// every selected benchmark.
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
        var report = comparer.Compare(a, b);
        var settled = report.Benchmarks
            .Where(c => c.Time == TimeOutcome.Same && !c.AllocationChanged)
            .Select(c => c.Id)
            .ToHashSet(StringComparer.Ordinal);
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
