using System.Runtime.InteropServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Trace;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Inline mode: the posting thread resolves and delivers; the same posts give byte-identical logs; every bundled trace
/// equals its sequential replay; concurrent posters are serialised; a post from the notifier is refused.
/// </summary>
public class InlineModeTests
{

    public static TheoryData<string> Traces => ["xapic-flat-smp4", "xapic-phys-smp4", "x2apic-cluster-smp4", "x2apic-phys-smp8"];

    [Theory]
    [MemberData(nameof(Traces))]
    public void A_bundled_trace_posted_in_order_delivers_the_sequential_replay_in_order_and_the_same_bytes_every_run(string name)
    {
        uint[] ids = TraceReader.ReadVcpus(RepoFiles.Path("traces", name + ".vcpus.csv"));
        ExitRecord[] exits = TraceReader.ReadExits(RepoFiles.Path("traces", name + ".exits.csv"), ids.Length);
        ReplayResult reference = SequentialReplay.Run(ids, exits);

        (DeliveryLogEntry[] first, EngineCounters counters) = ReplayInline(ids, exits);
        (DeliveryLogEntry[] second, _) = ReplayInline(ids, exits);

        Assert.True(MemoryMarshal.AsBytes(first.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(second.AsSpan())), "two runs logged different bytes");
        int next = 0;
        foreach (DeliveryRow row in reference.Rows)
        {
            if (row.Destinations.Length == 0)
            {
                continue;
            }

            // The row's deliveries come next in the log, all of them and nothing between (Inline adds no reordering).
            Assert.True(next + row.Destinations.Length <= first.Length, $"seq {row.Seq}: the log ends early");
            int[] got = first.AsSpan(next, row.Destinations.Length).ToArray().Select(e => (int)e.Tag == row.Seq ? e.DestinationVcpu : -1).Order().ToArray();
            Assert.Equal(row.Destinations.ToArray(), got);
            next += row.Destinations.Length;
        }

        Assert.Equal(first.Length, next);
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(exits.Length, counters.Posted);
        Assert.Equal(reference.Counters.Fired, counters.IpisResolved);
        Assert.Equal(reference.Counters.Rejected, counters.Rejected);
        Assert.Equal(reference.Counters.TopologyWrites, counters.TopologyWrites);
    }

    private static (DeliveryLogEntry[] Log, EngineCounters Counters) ReplayInline(uint[] ids, ExitRecord[] exits)
    {
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Reset(ids),
            ThreadingMode = ThreadingMode.Inline,
            RingCapacity = 16, // a small ring: Inline never waits for room
            DeliveryLogCapacity = 1 << 20,
            NotifyCallback = _ => { },
        });
        engine.Start();
        foreach (ExitRecord r in exits)
        {
            engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
        }

        engine.Stop();
        return (engine.DeliveryLog!.Entries.ToArray(), engine.ReadCounters());
    }

    [Fact]
    public void A_post_is_delivered_and_notified_on_the_posting_thread_before_it_returns()
    {
        int notifiedOn = -1;
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 4,
            ThreadingMode = ThreadingMode.Inline,
            RingCapacity = 4,
            NotifyCallback = _ => notifiedOn = Environment.CurrentManagedThreadId,
        });
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x30), 1); // before the start: queued
        Assert.False(engine.HasPending(1));
        engine.Start();
        Assert.True(engine.TakePending(1).IsPending(0x30)); // the start delivered it
        Assert.Equal(Environment.CurrentManagedThreadId, notifiedOn);

        engine.Post(0, ApicRegister.X2Icr, Unicast(2, 0x31), 2);
        Assert.True(engine.TakePending(2).IsPending(0x31)); // no thread hand-off: already there
        Assert.True(engine.TryPost(0, ApicRegister.X2Icr, Unicast(3, 0x32), 3));
        Assert.True(engine.TakePending(3).IsPending(0x32));

        var batch = new ExitRecord[10]; // more than the ring holds: delivered piece by piece, no waiting
        for (int i = 0; i < batch.Length; i++)
        {
            batch[i] = ExitRecord.Create(0, ApicRegister.X2Icr, Unicast(1, (byte)(0x40 + i)), 1, (ulong)i);
        }

        engine.PostBatch(0, batch);
        Assert.Equal(10, engine.TakePending(1).VectorCount);
        engine.ApplyTopologyWrite(1, ApicRegister.Svr, 0x1FF); // ordered with the posts: no deadlock, no wait for a thread
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(13, counters.Delivered);
        Assert.Throws<EngineStoppedException>(() => engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x30), 1));
    }

    [Fact]
    public void Concurrent_posters_are_serialised_and_lose_double_or_reorder_nothing()
    {
        // Four threads post to vCPU 0..3 (their own source), each a numbered sequence to one destination; a source's
        // deliveries must reach the log complete and in posting order, and every IPI is accounted for.
        const int Threads = 4;
        const int PerThread = 20_000;
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = Threads + 1,
            ThreadingMode = ThreadingMode.Inline,
            DeliveryLogCapacity = Threads * PerThread + 1,
        });
        engine.Start();
        var posters = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int source = t;
            posters[t] = new Thread(() =>
            {
                for (int i = 0; i < PerThread; i++)
                {
                    engine.Post(source, ApicRegister.X2Icr, Unicast(Threads, (byte)(0x20 + source)), Threads, (ulong)i);
                }
            }) { IsBackground = true };
            posters[t].Start();
        }

        foreach (Thread poster in posters)
        {
            Assert.True(poster.Join(TimeSpan.FromSeconds(120)));
        }

        engine.Stop();
        var next = new long[Threads];
        foreach (DeliveryLogEntry entry in engine.DeliveryLog!.Entries.ToArray())
        {
            Assert.Equal((ulong)next[entry.SourceVcpu]++, entry.Tag);
        }

        Assert.All(next, n => Assert.Equal(PerThread, n));
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(Threads * PerThread, counters.Delivered + counters.Coalesced);
    }

    [Fact]
    public void A_post_from_the_notifier_is_refused_by_the_notifier_policy()
    {
        Exception? refused = null;
        Engine? engine = null;
        engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            ThreadingMode = ThreadingMode.Inline,
            NotifierExceptions = NotifierExceptionPolicy.Continue,
            NotifierExceptionHandler = (_, e) => refused = e,
            NotifyCallback = _ => engine!.Post(1, ApicRegister.X2Icr, Unicast(0, 0x50), 0),
        });
        using (engine)
        {
            engine.Start();
            engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x30), 1);
            Assert.Contains("from the notifier", Assert.IsType<InvalidOperationException>(refused).Message);
            engine.Stop();
            EngineCounters counters = engine.ReadCounters();
            Assert.Equal(1, counters.NotifierFaults);
            Assert.Equal(1, counters.Posted);
            Assert.True(counters.ConservationHolds, counters.ToString());
        }
    }

    [Fact]
    public void A_failing_notifier_under_fail_fast_faults_the_engine_and_the_post_says_so()
    {
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2,
            ThreadingMode = ThreadingMode.Inline,
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = _ => throw new InvalidDataException("kick failed"),
        });
        engine.Start();
        var error = Assert.Throws<EngineFaultedException>(() => engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x30), 1));
        Assert.Contains("kick failed", error.Message);
        Assert.Throws<EngineFaultedException>(() => engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x31), 1));
        Assert.Throws<EngineFaultedException>(engine.Stop);
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(1, counters.Delivered); // the failing post's IPI was delivered and counted before the fault
        Assert.True(counters.ConservationHolds, counters.ToString());
    }
}
