using IpiEngine.Perf.Records;

namespace IpiEngine.Perf.Comparison;

/// <summary>The records pooled on one side of a comparison.</summary>
/// <param name="Label">What the user named (a sha, branch, file or folder).</param>
/// <param name="Records">The records, oldest first.</param>
/// <param name="LeftOut">Why some records found were not used (dirty trees), for the summary.</param>
public sealed record RecordSet(string Label, IReadOnlyList<PerfRecord> Records, IReadOnlyList<string> LeftOut);
