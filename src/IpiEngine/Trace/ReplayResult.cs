namespace IpiEngine.Trace;

/// <summary>The rows a replay produced (seq ascending, as the exits were) and its counters.</summary>
/// <param name="Rows">One row per firing write.</param>
/// <param name="Counters">Every record, counted by outcome.</param>
internal sealed record ReplayResult(IReadOnlyList<DeliveryRow> Rows, ReplayCounters Counters);
