namespace IpiEngine.Perf.Trend;

/// <summary>One commit's point of a benchmark's trend: the pooled samples of every record of that commit.</summary>
/// <param name="ShortSha">The commit.</param>
/// <param name="When">Commit date (or the first run's start when unknown).</param>
/// <param name="Median">Median, ns per operation.</param>
/// <param name="Q1">First quartile.</param>
/// <param name="Q3">Third quartile.</param>
/// <param name="Samples">Samples pooled.</param>
public sealed record TrendPoint(string ShortSha, DateTimeOffset When, double Median, double Q1, double Q3, int Samples);

/// <summary>A benchmark's per-commit medians and the change points found in them.</summary>
/// <param name="Name">Benchmark id, with <c> [near]</c> or <c> [far]</c> for a cross-thread benchmark's per-state series.</param>
/// <param name="Points">Oldest commit first.</param>
/// <param name="ChangePoints">Indexes of the first point after each step.</param>
public sealed record TrendSeries(string Name, IReadOnlyList<TrendPoint> Points, IReadOnlyList<int> ChangePoints);
