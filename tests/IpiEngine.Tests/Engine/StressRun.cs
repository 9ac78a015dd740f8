using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>Runs a <see cref="StressScenario"/> through a concurrent engine and checks it against the reference.</summary>
internal static class StressRun
{
    /// <summary>Posts the scenario with <paramref name="producers"/> threads (vCPU v belongs to thread v mod producers).</summary>
    public static Engine Run(StressScenario scenario, int producers, ThreadingMode mode, WaitStrategyKind wait,
        int ringCapacity = 64, Action<int>? notify = null)
    {
        var engine = new Engine(new EngineOptions
        {
            Topology = scenario.NewTopology(),
            RingCapacity = ringCapacity,
            ThreadingMode = mode,
            WaitStrategy = wait,
            DeliveryLogCapacity = scenario.TotalRecords * scenario.VcpuCount + 16,
            NotifyCallback = notify,
            PipelineRingSize = 1024,
        });
        engine.Start();
        using var barrier = new Barrier(producers);
        var failures = new List<Exception>();
        var threads = new Thread[producers];
        for (int p = 0; p < producers; p++)
        {
            int producer = p;
            threads[p] = new Thread(() =>
            {
                try
                {
                    Produce(engine, scenario, producer, producers, barrier);
                }
                catch (Exception ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }

                    barrier.RemoveParticipant();
                }
            }) { IsBackground = true };
            threads[p].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a producer did not finish within 60 s");
        }

        Assert.Empty(failures);
        engine.Stop();
        return engine;
    }

    private static void Produce(Engine engine, StressScenario scenario, int producer, int producers, Barrier barrier)
    {
        for (int e = 0; e < scenario.Epochs; e++)
        {
            for (int v = producer; v < scenario.VcpuCount; v += producers)
            {
                IReadOnlyList<ExitRecord> records = scenario.Records(e, v);
                for (int i = 0; i < records.Count; i++)
                {
                    ExitRecord r = records[i];
                    if ((i & 1) == 0)
                    {
                        engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
                    }
                    else
                    {
                        engine.PostBatch(r.SourceVcpu == v ? v : r.SourceVcpu, [r]);
                    }
                }
            }

            barrier.SignalAndWait();
            if (producer == 0)
            {
                foreach (ExitRecord write in scenario.TopologyWrites(e))
                {
                    engine.Post(write.SourceVcpu, write.Register, write.Value, write.DestinationId, write.Tag);
                }
            }

            barrier.SignalAndWait();
        }
    }

    /// <summary>Every reference delivery exactly once, per-source order kept per destination, counters exact.</summary>
    public static void AssertMatchesReference(Engine engine, StressScenario scenario)
    {
        ReplayResult reference = scenario.Reference();
        var expected = new HashSet<(ulong Tag, int Destination)>();
        var sources = new Dictionary<ulong, int>();
        foreach (DeliveryRow row in reference.Rows)
        {
            foreach (int destination in row.Destinations)
            {
                Assert.True(expected.Add(((ulong)row.Seq, destination)));
            }

            sources[(ulong)row.Seq] = row.SourceVcpu;
        }

        ReadOnlySpan<DeliveryLogEntry> log = engine.DeliveryLog!.Entries;
        var seen = new HashSet<(ulong Tag, int Destination)>();
        var lastTag = new Dictionary<(int Source, int Destination), ulong>();
        foreach (DeliveryLogEntry entry in log)
        {
            var key = (entry.Tag, entry.DestinationVcpu);
            Assert.True(seen.Add(key), $"tag {entry.Tag} delivered twice to vCPU {entry.DestinationVcpu}");
            Assert.True(expected.Contains(key), $"tag {entry.Tag} delivered to vCPU {entry.DestinationVcpu}, which the reference does not");
            Assert.Equal(sources[entry.Tag], entry.SourceVcpu);
            var pair = (entry.SourceVcpu, entry.DestinationVcpu);
            if (lastTag.TryGetValue(pair, out ulong previous))
            {
                Assert.True(previous < entry.Tag, $"vCPU {pair.SourceVcpu} -> {pair.DestinationVcpu}: tag {entry.Tag} after {previous}");
            }

            lastTag[pair] = entry.Tag;
        }

        Assert.Equal(expected.Count, seen.Count);

        EngineCounters counters = engine.ReadCounters();
        ReplayCounters want = reference.Counters;
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(want.Records, counters.Posted);
        Assert.Equal(want.Latched, counters.Latched);
        Assert.Equal(want.TopologyWrites, counters.TopologyWrites);
        Assert.Equal(want.Fired, counters.IpisResolved);
        Assert.Equal(want.Destinations, counters.DestinationsResolved);
        foreach (RejectReason reason in Enum.GetValues<RejectReason>())
        {
            Assert.Equal(want.RejectedByReason.GetValueOrDefault(reason), counters.RejectedBy(reason));
        }

        Assert.Equal(0, counters.LogOverflow);
        AssertPendingState(engine, reference, counters);
    }

    /// <summary>Nobody took anything: each descriptor holds exactly the union of what the reference sent it.</summary>
    private static void AssertPendingState(Engine engine, ReplayResult reference, EngineCounters counters)
    {
        var vectors = new HashSet<(int, byte)>();
        var flags = new HashSet<(int, string)>();
        foreach (DeliveryRow row in reference.Rows)
        {
            foreach (int destination in row.Destinations)
            {
                if (row.Mode is "FIXED" or "LOWPRI")
                {
                    vectors.Add((destination, row.Vector));
                }
                else
                {
                    flags.Add((destination, row.Mode));
                }
            }
        }

        Assert.Equal(vectors.Count + flags.Count, counters.Delivered);
        for (int v = 0; v < engine.VcpuCount; v++)
        {
            PendingInterrupts pending = engine.TakePending(v);
            for (int vector = 0; vector < 256; vector++)
            {
                Assert.Equal(vectors.Contains((v, (byte)vector)), pending.IsPending((byte)vector));
            }

            Assert.Equal(flags.Contains((v, "NMI")), pending.Nmi);
            Assert.Equal(flags.Contains((v, "SMI")), pending.Smi);
            Assert.Equal(flags.Contains((v, "INIT")), pending.Init);
            Assert.Equal(flags.Contains((v, "SIPI")), pending.Sipi);
            Assert.False(engine.HasPending(v));
        }
    }
}
