using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;

namespace IpiEngine.Trace;

/// <summary>
/// Replays a trace through the concurrent <see cref="Engine"/> the way a simulator would drive it: each vCPU's records
/// are posted by that vCPU's own thread, in trace order; topology rows are coordinated with a barrier around each run
/// of them (every thread has posted what precedes, one thread applies them, then all go on), which is the ordering the
/// trace's reference model saw. The result equals <see cref="SequentialReplay"/>'s.
/// </summary>
public static class ConcurrentTraceReplay
{
    /// <summary>Replays <paramref name="exits"/> from the reset state with these initial APIC IDs.</summary>
    /// <param name="initialApicIds">Each vCPU's initial APIC ID (<c>vcpus.csv</c>).</param>
    /// <param name="exits">The trace's records (tag = seq), in order.</param>
    /// <param name="mode">The engine's threading mode.</param>
    /// <param name="wait">The engine's wait strategy.</param>
    /// <param name="ringCapacity">Each vCPU ring's capacity (small values exercise back-pressure).</param>
    public static ConcurrentReplayResult Run(ReadOnlySpan<uint> initialApicIds, IReadOnlyList<ExitRecord> exits,
        ThreadingMode mode = ThreadingMode.Fused, WaitStrategyKind wait = WaitStrategyKind.Hybrid, int ringCapacity = 4096)
    {
        ArgumentNullException.ThrowIfNull(exits);
        int vcpus = initialApicIds.Length;
        List<TracePhase> phases = TracePhase.Split(exits);
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Reset(initialApicIds),
            ThreadingMode = mode,
            WaitStrategy = wait,
            RingCapacity = ringCapacity,
            DeliveryLogCapacity = Math.Max(16, exits.Count * vcpus),
            Name = "replay",
        });
        engine.Start();
        var stopwatch = Stopwatch.StartNew();
        using var barrier = new Barrier(vcpus);
        Exception? failure = null;
        var threads = new Thread[vcpus];
        for (int v = 0; v < vcpus; v++)
        {
            int vcpu = v;
            threads[v] = new Thread(() =>
            {
                try
                {
                    PostPhases(engine, phases, vcpu, barrier);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref failure, ex, null);
                    barrier.RemoveParticipant();
                }
            }) { IsBackground = true, Name = $"vcpu-{v}" };
            threads[v].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException("A vCPU thread of the replay failed: " + failure.Message, failure);
        }

        engine.Stop();
        stopwatch.Stop();
        return new ConcurrentReplayResult(engine.DeliveryLog!.Entries.ToArray(), engine.ReadCounters(), stopwatch.Elapsed);
    }

    private static void PostPhases(Engine engine, List<TracePhase> phases, int vcpu, Barrier barrier)
    {
        foreach (TracePhase phase in phases)
        {
            foreach (ExitRecord r in phase.Records)
            {
                if (r.SourceVcpu == vcpu)
                {
                    engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
                }
            }

            if (phase.TopologyWrites.Count == 0)
            {
                continue;
            }

            barrier.SignalAndWait(); // everything before the topology rows is posted
            if (vcpu == 0)
            {
                foreach (ExitRecord w in phase.TopologyWrites)
                {
                    engine.Post(w.SourceVcpu, w.Register, w.Value, w.DestinationId, w.Tag);
                }
            }

            barrier.SignalAndWait(); // the new topology is in force before anything after is posted
        }
    }
}
