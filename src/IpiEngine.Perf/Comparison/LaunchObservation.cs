using IpiEngine.Perf.Calibration;

namespace IpiEngine.Perf.Comparison;

/// <summary>
/// One launch of one benchmark (one process): the median of its iterations, and the core-distance
/// state the probe saw around it. The launch, not the iteration, is the unit of evidence: the
/// iterations of one process share its placement, its JIT and its machine state, so they are not
/// independent samples.
/// </summary>
/// <param name="MedianNs">Median of the launch's iterations, ns per operation.</param>
/// <param name="State">Probe state around the launch; <see cref="CoreDistanceState.Mixed"/> means it changed during the launch.</param>
/// <param name="Round">The <c>compare-commits</c> round the launch belongs to; null for a plain record.</param>
/// <param name="Blocks">
/// With the interleaved runner, the launch's block medians in run order: block i of A and block i of
/// B of one round ran next to each other in time (<see cref="PairedTest"/>); null otherwise.
/// </param>
public readonly record struct LaunchObservation(double MedianNs, CoreDistanceState State, int? Round = null, IReadOnlyList<double>? Blocks = null);
