using System.Numerics;
using IpiEngine.Perf.Calibration;
using IpiEngine.Perf.Probe;

namespace IpiEngine.Cli.Run;

/// <summary>
/// <c>ipi run --baseline</c>: the engine's measured window and the probe (<see cref="ProbeRig"/>, the engine's bare
/// shape) take turns in slices of <see cref="SliceLength"/>, each slice between two core-distance readings
/// (<see cref="CoreDistanceProbe"/>) taken while both are idle: reading, engine slice, reading, probe slice of the same
/// length, reading, and so on. This machine's cores flip between near and far within a run, and its rates move up to
/// 5x with them, so one engine window followed by one probe window could compare a near engine with a far probe. Here
/// each slice is labelled near or far by its two readings (mixed when they disagree), and the engine's share of the
/// probe's rate is given per state, from the slices of that state only.
/// </summary>
internal sealed class BaselineSlices : IDisposable
{
    /// <summary>How long each turn of the engine (and so of the probe) posts.</summary>
    public static readonly TimeSpan SliceLength = TimeSpan.FromMilliseconds(500);

    private const int WarmUpTurns = 4;

    private readonly ProbeRig rig;
    private readonly CoreDistanceProbe distance = new();
    private readonly List<BaselineSlice> slices = [];
    private double? lastReadingNs;
    private long probeSequenceErrorsBefore;

    private BaselineSlices(ProbeRig rig) => this.rig = rig;

    /// <summary>The slices so far, in the order they ran.</summary>
    public IReadOnlyList<BaselineSlice> Slices => slices;

    /// <summary>
    /// Builds the probe with the run's vCPU count, batch and ring capacity, warms it up (as long as the engine's warm-up,
    /// at most a second), and takes the first reading. Call before the engine's warm-up starts: the cores are idle.
    /// </summary>
    public static BaselineSlices Start(int vcpus, int batch, int ringCapacity, TimeSpan warmUp)
    {
        var capacity = Math.Max(ringCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)batch));
        var rig = new ProbeRig(vcpus, batch, capacity, parkWhenIdle: true);
        var slices = new BaselineSlices(rig);
        if (warmUp > TimeSpan.Zero)
        {
            // In turns, as in the window, each with its reading: the runtime's tiering of the turn's own code (which
            // allocates a few bytes, once) is then over before the engine's window opens.
            var turn = (warmUp < TimeSpan.FromSeconds(1) ? warmUp : TimeSpan.FromSeconds(1)) / WarmUpTurns;
            for (var i = 0; i < WarmUpTurns; i++)
            {
                rig.RunFor(turn);
                slices.Reading();
            }
        }

        slices.probeSequenceErrorsBefore = rig.SequenceErrors;
        return slices;
    }

    /// <summary>Takes the reading that opens the next engine slice (its threads are parked or not yet posting).</summary>
    public void BeforeEngineSlice() => lastReadingNs = Reading();

    /// <summary>
    /// Closes an engine slice (its vCPU threads parked or stopped, everything they posted processed): the reading after
    /// it, then the probe for as long, then the reading after the probe, which opens the next engine slice.
    /// </summary>
    /// <param name="seconds">The slice's length, from its vCPU threads' resumption to the end of its drain.</param>
    /// <param name="destinations">Destinations the engine reached in the slice (delivered, coalesced or forwarded).</param>
    public void AfterEngineSlice(double seconds, long destinations)
    {
        var afterEngine = Reading();
        slices.Add(Slice(BaselineSlice.Engine, seconds, destinations, lastReadingNs, afterEngine));
        var probe = rig.RunFor(TimeSpan.FromSeconds(seconds));
        lastReadingNs = Reading();
        slices.Add(Slice(BaselineSlice.Probe, probe.Seconds, probe.Records, afterEngine, lastReadingNs));
    }

    /// <summary>The baseline of the run: the probe over all its slices, and the engine's share of it per core state.</summary>
    /// <param name="engineIpisPerSecond">The engine's destinations per second over its whole window.</param>
    public ProbeBaseline Summarize(double engineIpisPerSecond)
    {
        var probes = slices.Where(s => s.Run == BaselineSlice.Probe).ToList();
        var probeRecords = probes.Sum(s => s.Count);
        var probeSeconds = probes.Sum(s => s.Seconds);
        var probeRate = probeSeconds > 0 ? probeRecords / probeSeconds : 0;
        return new ProbeBaseline(
            probeRate,
            engineIpisPerSecond / Math.Max(probeRate, 1e-9),
            probeRecords,
            probeSeconds,
            rig.SequenceErrors - probeSequenceErrorsBefore)
        {
            SliceSeconds = SliceLength.TotalSeconds,
            Slices = [.. slices],
            ByState = [ByState(slices, CoreDistanceState.Near), ByState(slices, CoreDistanceState.Far)],
        };
    }

    /// <summary>
    /// The engine against the probe over the slices of one core state: each side's rate is its count over its time in
    /// those slices; no ratio unless both sides have at least one slice in the state.
    /// </summary>
    internal static BaselineState ByState(IReadOnlyList<BaselineSlice> slices, CoreDistanceState state)
    {
        var engine = slices.Where(s => s.Run == BaselineSlice.Engine && s.State == state).ToList();
        var probe = slices.Where(s => s.Run == BaselineSlice.Probe && s.State == state).ToList();
        double? engineRate = engine.Count > 0 ? engine.Sum(s => s.Count) / Math.Max(engine.Sum(s => s.Seconds), 1e-9) : null;
        double? probeRate = probe.Count > 0 ? probe.Sum(s => s.Count) / Math.Max(probe.Sum(s => s.Seconds), 1e-9) : null;
        double? ratio = engineRate is { } e && probeRate is { } p && p > 0 ? e / p : null;
        return new BaselineState(state, engine.Count, probe.Count, engineRate, probeRate, ratio);
    }

    public void Dispose() => rig.Dispose();

    private static BaselineSlice Slice(string run, double seconds, long count, double? beforeNs, double? afterNs)
        => new(run, seconds, count, seconds > 0 ? count / seconds : 0, beforeNs, afterNs, CoreDistanceThresholds.Default.Classify(beforeNs, afterNs));

    private double? Reading() => distance.Measure().RoundTripNs;
}

/// <summary>One turn of the engine or of the probe in a <c>--baseline</c> run (JSON <c>baseline.slices</c>).</summary>
/// <param name="Run"><see cref="Engine"/> or <see cref="Probe"/>.</param>
/// <param name="Seconds">How long it posted (the engine's slice includes the drain of what it posted).</param>
/// <param name="Count">Destinations the engine reached, or records the probe resolved (one destination each).</param>
/// <param name="PerSecond"><paramref name="Count"/> over <paramref name="Seconds"/>.</param>
/// <param name="RoundTripBeforeNs">The core-distance reading before the slice (null: the reading failed).</param>
/// <param name="RoundTripAfterNs">The reading after it.</param>
/// <param name="State">Near or far when both readings agree; mixed when they do not; unknown without both.</param>
internal sealed record BaselineSlice(string Run, double Seconds, long Count, double PerSecond, double? RoundTripBeforeNs, double? RoundTripAfterNs, CoreDistanceState State)
{
    /// <summary>A turn of the engine.</summary>
    public const string Engine = "engine";

    /// <summary>A turn of the probe.</summary>
    public const string Probe = "probe";
}

/// <summary>The engine against the probe over the slices of one core state (JSON <c>baseline.byState</c>).</summary>
/// <param name="State">Near or far.</param>
/// <param name="EngineSlices">Engine slices in this state.</param>
/// <param name="ProbeSlices">Probe slices in this state.</param>
/// <param name="EngineIpisPerSecond">The engine's rate over its slices in this state (null: none).</param>
/// <param name="ProbeIpisPerSecond">The probe's rate over its slices in this state (null: none).</param>
/// <param name="EngineToProbe">The engine's share of the probe's rate in this state (null unless both ran in it).</param>
internal sealed record BaselineState(CoreDistanceState State, int EngineSlices, int ProbeSlices, double? EngineIpisPerSecond, double? ProbeIpisPerSecond, double? EngineToProbe);
