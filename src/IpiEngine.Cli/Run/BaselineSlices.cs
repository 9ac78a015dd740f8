using System.Numerics;
using IpiEngine.Cli.Machine;
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
/// probe's rate is given per state, from the slices of that state only. With <c>--baseline-queue</c> a third turn
/// follows the probe's in each round: a ConcurrentQueue per vCPU (<see cref="QueueRig"/>, one record per call, the
/// plain way in C#, its producers taking their own pending interrupts after every post as the run's vCPU threads do),
/// compared with the engine the same way.
/// </summary>
internal sealed class BaselineSlices : IDisposable
{
    /// <summary>How long each turn of the engine (and so of each reference) posts.</summary>
    public static readonly TimeSpan SliceLength = TimeSpan.FromMilliseconds(500);

    private const int WarmUpTurns = 4;

    private readonly List<Reference> references;
    private readonly CoreDistanceProbe distance = new();
    private readonly List<BaselineSlice> slices = [];
    private ThreadCpuTimes? threads; // listed once the rigs' threads exist, re-read around each turn without allocating
    private long[] turnStartTicks = [];
    private long[] turnEndTicks = [];
    private double? lastReadingNs;

    private BaselineSlices(List<Reference> references) => this.references = references;

    /// <summary>The slices so far, in the order they ran.</summary>
    public IReadOnlyList<BaselineSlice> Slices => slices;

    /// <summary>
    /// Builds the probe (and with <paramref name="withQueue"/> the ConcurrentQueue rig) with the run's vCPU count, batch
    /// and ring capacity, warms each up (as long as the engine's warm-up, at most a second), and takes the first reading.
    /// Call before the engine's warm-up starts: the cores are idle.
    /// </summary>
    public static BaselineSlices Start(int vcpus, int batch, int ringCapacity, TimeSpan warmUp, bool withQueue = false)
    {
        var capacity = Math.Max(ringCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)batch));
        List<Reference> references = [new(BaselineSlice.Probe, new ProbeRig(vcpus, batch, capacity, parkWhenIdle: true, takeAfterPost: true))];
        if (withQueue)
        {
            references.Add(new(BaselineSlice.Queue, new QueueRig(vcpus, capacity, parkWhenIdle: true, takeAfterPost: true)));
        }

        var slices = new BaselineSlices(references);
        if (warmUp > TimeSpan.Zero)
        {
            // In turns, as in the window, each with its reading: the runtime's tiering of the turn's own code (which
            // allocates a few bytes, once) is then over before the engine's window opens.
            var turn = (warmUp < TimeSpan.FromSeconds(1) ? warmUp : TimeSpan.FromSeconds(1)) / WarmUpTurns;
            for (var i = 0; i < WarmUpTurns; i++)
            {
                foreach (var reference in references)
                {
                    reference.Rig.RunFor(turn);
                    slices.Reading();
                }
            }
        }

        foreach (var reference in references)
        {
            reference.SequenceErrorsBefore = reference.Rig.SequenceErrors;
        }

        // The rigs' threads exist (parked): listed now, before the engine's warm-up, during which the runtime promotes
        // what the listing called (ThreadCpuTimes' remarks).
        slices.threads = ThreadCpuTimes.TryList();
        slices.turnStartTicks = new long[slices.threads?.Count ?? 0];
        slices.turnEndTicks = new long[slices.threads?.Count ?? 0];
        return slices;
    }

    /// <summary>Takes the reading that opens the next engine slice (its threads are parked or not yet posting).</summary>
    public void BeforeEngineSlice() => lastReadingNs = Reading();

    /// <summary>
    /// Closes an engine slice (its vCPU threads parked or stopped, everything they posted processed): the reading after
    /// it, then each reference for as long, each followed by a reading; the last reading opens the next engine slice.
    /// </summary>
    /// <param name="seconds">The slice's length, from its vCPU threads' resumption to the end of its drain.</param>
    /// <param name="destinations">Destinations the engine reached in the slice (delivered, coalesced or forwarded).</param>
    public void AfterEngineSlice(double seconds, long destinations)
    {
        var before = Reading();
        slices.Add(Slice(BaselineSlice.Engine, seconds, destinations, lastReadingNs, before));
        foreach (var reference in references)
        {
            threads?.ReadTicks(turnStartTicks);
            var result = reference.Rig.RunFor(TimeSpan.FromSeconds(seconds));
            if (threads is not null)
            {
                threads.ReadTicks(turnEndTicks);
                threads.AddSecondsBetween(turnStartTicks, turnEndTicks, reference.CpuSeconds);
            }

            var after = Reading();
            slices.Add(Slice(reference.Run, result.Seconds, result.Records, before, after));
            before = after;
        }

        lastReadingNs = before;
    }

    /// <summary>The baseline of the run: each reference over all its slices, and the engine's share of it per core state.</summary>
    /// <param name="engineIpisPerSecond">The engine's destinations per second over its whole window.</param>
    public ProbeBaseline Summarize(double engineIpisPerSecond)
    {
        var (probeRate, probeRecords, probeSeconds) = Totals(BaselineSlice.Probe);
        var probe = references.Find(r => r.Run == BaselineSlice.Probe)!; // always built
        var queue = references.Find(r => r.Run == BaselineSlice.Queue);
        return new ProbeBaseline(
            probeRate,
            engineIpisPerSecond / Math.Max(probeRate, 1e-9),
            probeRecords,
            probeSeconds,
            SequenceErrorsSince(probe))
        {
            Cpu = Cpu(probe, probeSeconds, probeRecords),
            SliceSeconds = SliceLength.TotalSeconds,
            Slices = [.. slices],
            ByState = [ByState(slices, CoreDistanceState.Near), ByState(slices, CoreDistanceState.Far)],
            Queue = queue is null ? null : QueueSummary(engineIpisPerSecond, queue),
        };
    }

    /// <summary>
    /// The engine against the probe over the slices of one core state: each side's rate is its count over its time in
    /// those slices; no ratio unless both sides have at least one slice in the state.
    /// </summary>
    internal static BaselineState ByState(IReadOnlyList<BaselineSlice> slices, CoreDistanceState state)
    {
        var c = Compare(slices, state, BaselineSlice.Probe);
        return new BaselineState(state, c.EngineSlices, c.ReferenceSlices, c.EngineRate, c.ReferenceRate, c.Ratio);
    }

    /// <summary>The engine against the ConcurrentQueue rig over the slices of one core state, as <see cref="ByState"/>.</summary>
    internal static QueueState QueueByState(IReadOnlyList<BaselineSlice> slices, CoreDistanceState state)
    {
        var c = Compare(slices, state, BaselineSlice.Queue);
        return new QueueState(state, c.EngineSlices, c.ReferenceSlices, c.EngineRate, c.ReferenceRate, c.Ratio);
    }

    public void Dispose()
    {
        foreach (var reference in references)
        {
            reference.Rig.Dispose();
        }
    }

    private static (int EngineSlices, int ReferenceSlices, double? EngineRate, double? ReferenceRate, double? Ratio) Compare(
        IReadOnlyList<BaselineSlice> slices, CoreDistanceState state, string reference)
    {
        var engine = slices.Where(s => s.Run == BaselineSlice.Engine && s.State == state).ToList();
        var other = slices.Where(s => s.Run == reference && s.State == state).ToList();
        double? engineRate = engine.Count > 0 ? engine.Sum(s => s.Count) / Math.Max(engine.Sum(s => s.Seconds), 1e-9) : null;
        double? referenceRate = other.Count > 0 ? other.Sum(s => s.Count) / Math.Max(other.Sum(s => s.Seconds), 1e-9) : null;
        double? ratio = engineRate is { } e && referenceRate is { } r && r > 0 ? e / r : null;
        return (engine.Count, other.Count, engineRate, referenceRate, ratio);
    }

    private QueueBaseline QueueSummary(double engineIpisPerSecond, Reference queue)
    {
        var (rate, records, seconds) = Totals(BaselineSlice.Queue);
        return new QueueBaseline(rate, engineIpisPerSecond / Math.Max(rate, 1e-9), records, seconds, SequenceErrorsSince(queue))
        {
            Cpu = Cpu(queue, seconds, records),
            ByState = [QueueByState(slices, CoreDistanceState.Near), QueueByState(slices, CoreDistanceState.Far)],
        };
    }

    private (double Rate, long Records, double Seconds) Totals(string run)
    {
        var turns = slices.Where(s => s.Run == run).ToList();
        var records = turns.Sum(s => s.Count);
        var seconds = turns.Sum(s => s.Seconds);
        return (seconds > 0 ? records / seconds : 0, records, seconds);
    }

    /// <summary>A reference's CPU over its turns (null where the threads' counters cannot be read).</summary>
    private ReferenceCpu? Cpu(Reference reference, double seconds, long records)
        => threads is null || seconds <= 0 ? null
            : new ReferenceCpu(reference.CpuSeconds[(int)ThreadRole.ReferenceConsumer], reference.CpuSeconds[(int)ThreadRole.ReferenceProducer], seconds, records);

    private static long SequenceErrorsSince(Reference reference) => reference.Rig.SequenceErrors - reference.SequenceErrorsBefore;

    private static BaselineSlice Slice(string run, double seconds, long count, double? beforeNs, double? afterNs)
        => new(run, seconds, count, seconds > 0 ? count / seconds : 0, beforeNs, afterNs, CoreDistanceThresholds.Default.Classify(beforeNs, afterNs));

    private double? Reading() => distance.Measure().RoundTripNs;

    /// <summary>A reference rig taking turns with the engine, and its sequence errors before the window.</summary>
    private sealed class Reference(string run, ReferenceRig rig)
    {
        public string Run { get; } = run;

        public ReferenceRig Rig { get; } = rig;

        public long SequenceErrorsBefore { get; set; }

        /// <summary>CPU seconds by <see cref="ThreadRole"/> over this reference's turns in the window.</summary>
        public double[] CpuSeconds { get; } = new double[ThreadCpuTimes.RoleCount];
    }
}

/// <summary>One turn of the engine or of a reference in a <c>--baseline</c> run (JSON <c>baseline.slices</c>).</summary>
/// <param name="Run"><see cref="Engine"/>, <see cref="Probe"/> or <see cref="Queue"/>.</param>
/// <param name="Seconds">How long it posted (the engine's slice includes the drain of what it posted).</param>
/// <param name="Count">Destinations the engine reached, or records a reference resolved (one destination each).</param>
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

    /// <summary>A turn of the ConcurrentQueue rig (<c>--baseline-queue</c>).</summary>
    public const string Queue = "queue";
}

/// <summary>The engine against the probe over the slices of one core state (JSON <c>baseline.byState</c>).</summary>
/// <param name="State">Near or far.</param>
/// <param name="EngineSlices">Engine slices in this state.</param>
/// <param name="ProbeSlices">Probe slices in this state.</param>
/// <param name="EngineIpisPerSecond">The engine's rate over its slices in this state (null: none).</param>
/// <param name="ProbeIpisPerSecond">The probe's rate over its slices in this state (null: none).</param>
/// <param name="EngineToProbe">The engine's share of the probe's rate in this state (null unless both ran in it).</param>
internal sealed record BaselineState(CoreDistanceState State, int EngineSlices, int ProbeSlices, double? EngineIpisPerSecond, double? ProbeIpisPerSecond, double? EngineToProbe);

/// <summary>The engine against the ConcurrentQueue rig over the slices of one core state (JSON <c>baseline.queue.byState</c>).</summary>
/// <param name="State">Near or far.</param>
/// <param name="EngineSlices">Engine slices in this state.</param>
/// <param name="QueueSlices">Queue slices in this state.</param>
/// <param name="EngineIpisPerSecond">The engine's rate over its slices in this state (null: none).</param>
/// <param name="QueueIpisPerSecond">The queue rig's rate over its slices in this state (null: none).</param>
/// <param name="EngineToQueue">The engine's rate as a multiple of the queue rig's in this state (null unless both ran in it).</param>
internal sealed record QueueState(CoreDistanceState State, int EngineSlices, int QueueSlices, double? EngineIpisPerSecond, double? QueueIpisPerSecond, double? EngineToQueue);
