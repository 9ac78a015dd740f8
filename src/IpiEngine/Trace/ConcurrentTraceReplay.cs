using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Trace;

/// <summary>
/// Replays a trace through the concurrent <see cref="Engine"/> the way a simulator would drive it: each vCPU's records
/// are posted by one thread, in trace order (up to <see cref="MaxPosterThreads"/> threads, vCPU v on thread
/// v % threads, so a 2048-vCPU trace does not start 2048 threads); topology rows are coordinated with a barrier around
/// each run of them (every thread has posted what precedes, one thread applies them, then all go on), which is the
/// ordering the trace's reference model saw. The result equals <see cref="SequentialReplay"/>'s.
/// </summary>
internal static class ConcurrentTraceReplay
{
    /// <summary>Most posting threads (each owns the vCPUs v with v % threads == its index).</summary>
    public const int MaxPosterThreads = 64;

    /// <summary>Most deliveries a replay logs (40 bytes each): the check needs every one of them.</summary>
    public const int MaxLoggedDeliveries = 1 << 26;

    /// <summary>Replays <paramref name="exits"/> from the reset state with these initial APIC IDs.</summary>
    /// <param name="initialApicIds">Each vCPU's initial APIC ID (<c>vcpus.csv</c>).</param>
    /// <param name="exits">The trace's records (tag = seq), in order.</param>
    /// <param name="mode">The engine's threading mode.</param>
    /// <param name="wait">The engine's wait strategy.</param>
    /// <param name="ringCapacity">Each vCPU ring's capacity (small values exercise back-pressure).</param>
    /// <param name="expectedDeliveries">
    /// The deliveries the replay should make (the sequential replay's destinations, summed), which sizes the delivery
    /// log; null to count them here with a sequential replay. More than <see cref="MaxLoggedDeliveries"/> is refused.
    /// </param>
    /// <param name="assistIdlePipeline">Fused mode: whether a post that finds the pipeline thread parked delivers itself (<see cref="EngineOptions.AssistIdlePipeline"/>).</param>
    public static ConcurrentReplayResult Run(ReadOnlySpan<uint> initialApicIds, IReadOnlyList<ExitRecord> exits,
        ThreadingMode mode = ThreadingMode.Fused, WaitStrategyKind wait = WaitStrategyKind.Hybrid, int ringCapacity = 4096,
        long? expectedDeliveries = null, bool assistIdlePipeline = true)
    {
        ArgumentNullException.ThrowIfNull(exits);
        int vcpus = initialApicIds.Length;
        long expected = expectedDeliveries ?? SequentialReplay.Run(initialApicIds, [.. exits]).Counters.Destinations;
        if (expected > MaxLoggedDeliveries)
        {
            throw new ArgumentOutOfRangeException(nameof(expectedDeliveries), expected,
                $"The trace delivers {expected:N0} interrupts; a checked replay logs at most {MaxLoggedDeliveries:N0}.");
        }

        int posters = Math.Min(vcpus, MaxPosterThreads);
        PosterScript[] scripts = Split(exits, posters, out int phases);
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Reset(initialApicIds),
            ThreadingMode = mode,
            WaitStrategy = wait,
            AssistIdlePipeline = assistIdlePipeline,
            RingCapacity = ringCapacity,
            DeliveryLogCapacity = (int)Math.Max(16, expected + 1), // one spare: a delivery too many shows as a difference
            StampPostTime = true, // the replay's latency (the other modes stamp by default when logging; Inline does not)
            Name = "replay",
        });
        engine.Start();
        var stopwatch = Stopwatch.StartNew();
        using var barrier = new Barrier(posters);
        Exception? failure = null;
        var threads = new Thread[posters];
        for (int t = 0; t < posters; t++)
        {
            PosterScript script = scripts[t];
            bool appliesTopology = t == 0;
            threads[t] = new Thread(() =>
            {
                try
                {
                    PostPhases(engine, script, phases, appliesTopology, barrier);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref failure, ex, null);
                    barrier.RemoveParticipant();
                }
            }) { IsBackground = true, Name = $"replay-poster-{t}" };
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException("A posting thread of the replay failed: " + failure.Message, failure);
        }

        engine.Stop();
        stopwatch.Stop();
        return new ConcurrentReplayResult(engine.DeliveryLog!.Entries.ToArray(), engine.ReadCounters(), stopwatch.Elapsed);
    }

    private static void PostPhases(Engine engine, PosterScript script, int phases, bool appliesTopology, Barrier barrier)
    {
        int next = 0;
        for (int phase = 0; phase < phases; phase++)
        {
            for (; next < script.Records.Count && script.PhaseOf[next] == phase; next++)
            {
                ExitRecord r = script.Records[next];
                engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
            }

            if (phase == phases - 1)
            {
                break; // the last phase has no topology rows after it
            }

            barrier.SignalAndWait(); // everything before the topology rows is posted
            if (appliesTopology)
            {
                foreach (ExitRecord w in script.TopologyWrites[phase])
                {
                    engine.Post(w.SourceVcpu, w.Register, w.Value, w.DestinationId, w.Tag);
                }
            }

            barrier.SignalAndWait(); // the new topology is in force before anything after is posted
        }
    }

    /// <summary>
    /// Cuts the trace into phases (a run of non-topology records, then the run of topology rows after it) and hands
    /// each non-topology record to its vCPU's poster, tagged with its phase; poster 0 also gets the topology rows.
    /// </summary>
    private static PosterScript[] Split(IReadOnlyList<ExitRecord> exits, int posters, out int phases)
    {
        var scripts = new PosterScript[posters];
        for (int t = 0; t < posters; t++)
        {
            scripts[t] = new PosterScript();
        }

        var topology = scripts[0].TopologyWrites;
        int phase = 0;
        bool inTopologyRun = false;
        foreach (ExitRecord record in exits)
        {
            if (ApicTopology.IsTopologyRegister(record.Register))
            {
                if (!inTopologyRun)
                {
                    topology.Add([]);
                    inTopologyRun = true;
                }

                topology[phase].Add(record);
                continue;
            }

            if (inTopologyRun)
            {
                phase++;
                inTopologyRun = false;
            }

            PosterScript script = scripts[record.SourceVcpu % posters];
            script.Records.Add(record);
            script.PhaseOf.Add(phase);
        }

        phases = inTopologyRun ? phase + 2 : phase + 1; // topology rows at the end close a phase with an empty one after
        return scripts;
    }

    /// <summary>One poster's records in trace order, the phase of each, and (poster 0) the topology rows ending each phase.</summary>
    private sealed class PosterScript
    {
        public List<ExitRecord> Records { get; } = [];

        public List<int> PhaseOf { get; } = [];

        public List<List<ExitRecord>> TopologyWrites { get; } = [];
    }
}
