using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// Short counted runs through the real engine: every delivery the engine logs is one the resolver says the posted
/// writes make, and none is missing or doubled (the delivery log against a sequential resolution of what was posted).
/// </summary>
public class WorkloadDriverTests
{
    public static TheoryData<TopologyKind, bool, int, string, ThreadingMode> Cases()
    {
        var data = new TheoryData<TopologyKind, bool, int, string, ThreadingMode>();
        var alternate = 0;
        foreach (var (kind, sparse, vcpus) in new[]
        {
            (TopologyKind.XApicFlat, false, 8), (TopologyKind.XApicCluster, false, 12), (TopologyKind.XApicPhysical, false, 6),
            (TopologyKind.XApicPhysical, true, 6), (TopologyKind.X2ApicPhysical, false, 16), (TopologyKind.X2ApicPhysical, true, 16),
            (TopologyKind.X2ApicCluster, false, 16), (TopologyKind.X2ApicCluster, true, 20),
        })
        {
            foreach (var mix in WorkloadMix.PatternNames)
            {
                data.Add(kind, sparse, vcpus, mix, alternate++ % 2 == 0 ? ThreadingMode.Fused : ThreadingMode.PerStage);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_counted_run_delivers_exactly_what_the_posted_writes_resolve_to(TopologyKind kind, bool sparse, int vcpus, string mixName, ThreadingMode threading)
    {
        Assert.True(WorkloadMix.TryParse(mixName, out var mix, out _));
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(vcpus, kind, sparse), kind), mix!, 11, 150);
        const int Ipis = 2000;
        using var engine = StartedEngine(ApicTopology.Configure(vcpus, kind, sparse), threading);
        var driver = new WorkloadDriver(engine, script, batch: 5, windowIpis: Ipis, ipisPerSecond: null);
        driver.PostBringUp();
        driver.Start();
        driver.BeginPosting();
        var deadline = Stopwatch.StartNew();
        while (!driver.AllFinished && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            Thread.Sleep(1);
        }

        driver.Stop();
        engine.Stop();

        AssertDeliveredExactly(engine, driver, script, ApicTopology.Configure(vcpus, kind, sparse), Ipis);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void Pauses_post_nothing_while_paused_and_lose_or_double_nothing(ThreadingMode threading)
    {
        const int Vcpus = 16;
        const int Ipis = 20_000;
        var kind = TopologyKind.X2ApicCluster;
        Assert.True(WorkloadMix.TryParse("linux-mix", out var mix, out _));
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(Vcpus, kind), kind), mix!, 5, 400);
        using var engine = StartedEngine(ApicTopology.Configure(Vcpus, kind), threading);
        // Paced at 200 k IPIs/s, so the run lasts at least 100 ms of posting however fast the machine: room for many
        // pauses, and each pause makes the vCPUs catch up after it (their IPIs stay due at their times).
        var driver = new WorkloadDriver(engine, script, batch: 3, windowIpis: Ipis, ipisPerSecond: 200_000);
        driver.PostBringUp();
        driver.Start();
        Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().ConservationHolds, TimeSpan.FromSeconds(10)), "the bring-up did not drain");
        var posted = engine.ReadCounters().Posted;
        driver.Pause(); // before the first post: the threads waiting to start park too
        Thread.Sleep(5);
        Assert.Equal(posted, engine.ReadCounters().Posted);
        driver.Resume();
        var deadline = Stopwatch.StartNew();
        var pauses = 1;
        while (!driver.AllFinished && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            // A few hundred records between two pauses: progress in each.
            SpinWait.SpinUntil(() => driver.AllFinished || engine.ReadCounters().Posted >= posted + 300, TimeSpan.FromSeconds(5));
            driver.Pause();
            pauses++;
            Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().ConservationHolds, TimeSpan.FromSeconds(10)), "the engine did not drain while paused");
            posted = engine.ReadCounters().Posted;
            Thread.Sleep(5);
            Assert.Equal(posted, engine.ReadCounters().Posted); // parked vCPU threads post nothing
            driver.Resume();
        }

        driver.Stop();
        engine.Stop();

        Assert.True(pauses > 3, $"only {pauses} pause(s): the run ended before it could be paused four times");
        AssertDeliveredExactly(engine, driver, script, ApicTopology.Configure(Vcpus, kind), Ipis);
    }

    [Fact]
    public void Every_paced_vcpu_counts_its_schedule_from_the_instant_posting_opened()
    {
        const int Vcpus = 64;
        var kind = TopologyKind.X2ApicPhysical;
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(Vcpus, kind), kind), WorkloadMix.Unicast, 5, 20);
        using var engine = StartedEngine(ApicTopology.Configure(Vcpus, kind), ThreadingMode.Fused);
        var driver = new WorkloadDriver(engine, script, batch: 1, windowIpis: null, ipisPerSecond: 64_000);
        driver.Start();
        driver.BeginPosting();
        Thread.Sleep(50); // every thread woke and posted (1 k IPIs/s each): their schedules are set
        driver.Stop();
        engine.Stop();

        Assert.NotEqual(0, driver.PostingOpenedAt);
        for (var v = 0; v < Vcpus; v++)
        {
            // One instant for all: a thread that took the gate late would otherwise shift its IPIs (and its stagger) by its wake.
            Assert.Equal(driver.PostingOpenedAt, driver.PaceStartOf(v));
        }
    }

    [Theory]
    [InlineData(10_000_000_000_000L, "single=1,msi=1000000", 9_999_990_000_009L)] // 10^13 x 10^6 overflowed a long
    [InlineData(1000L, "single=80,msi=20", 200L)]
    [InlineData(null, "single=80,msi=20", 0L)]
    public void A_counted_run_gives_the_devices_their_weights_share(long? window, string mixText, long expected)
    {
        Assert.True(WorkloadMix.TryParse(mixText, out var mix, out _));

        Assert.Equal(expected, WorkloadDriver.DeviceShareOf(window, mix!, devices: 1));
        Assert.Equal(0, WorkloadDriver.DeviceShareOf(window, mix!, devices: 0));
    }

    [Fact]
    public void A_workload_with_device_threads_refuses_to_pause()
    {
        Assert.True(WorkloadMix.TryParse("single=80,msi=20", out var mix, out _));
        var kind = TopologyKind.X2ApicPhysical;
        var script = WorkloadGenerator.Generate(VcpuAddressBook.From(ApicTopology.Configure(4, kind), kind), mix!, 5, 50, 1, 50);
        using var engine = new Engine(new EngineOptions { Topology = ApicTopology.Configure(4, kind), DeviceSources = 1 });
        engine.Start();
        var driver = new WorkloadDriver(engine, script, batch: 1, windowIpis: 100, ipisPerSecond: null);

        var refusal = Assert.Throws<InvalidOperationException>(driver.Pause);

        Assert.Equal("A workload with device threads cannot pause: they do not park.", refusal.Message);
    }

    /// <summary>An engine with small rings (the vCPU threads meet back-pressure) and a delivery log for every delivery.</summary>
    private static Engine StartedEngine(ApicTopology topology, ThreadingMode threading)
    {
        var engine = new Engine(new EngineOptions
        {
            Topology = topology,
            ThreadingMode = threading,
            RingCapacity = 64,
            DeliveryLogCapacity = 1 << 19,
        });
        engine.Start();
        return engine;
    }

    /// <summary>
    /// Every IPI posted resolved once, and the delivery log holds exactly what a sequential resolution gives, source by
    /// source in posting order. (The vCPU threads repost their scripts' records pass after pass with the same tags, so a
    /// sorted comparison let an IPI lost in one pass and doubled in another cancel out, and hid a reordering.)
    /// </summary>
    private static void AssertDeliveredExactly(Engine engine, WorkloadDriver driver, WorkloadScript script, ApicTopology topology, int ipis)
    {
        var counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(ipis, driver.PostedIpis);
        Assert.Equal(ipis + script.BringUpIpis, counters.IpisResolved);
        Assert.Equal(0, counters.Rejected);
        Assert.Equal(0, counters.LogOverflow);
        var actual = engine.DeliveryLog!.Entries.ToArray()
            .Select(e => (e.Tag, e.SourceVcpu, e.DestinationVcpu, e.DeliveryMode, e.Vector)).ToArray();
        var expected = Expected(script, driver, topology);
        Assert.Equal(expected.Length, actual.Length);
        foreach (var source in expected.Select(e => e.Item2).Concat(actual.Select(e => e.Item2)).Distinct())
            Assert.Equal(InPostingOrder(expected, source), InPostingOrder(actual, source));
    }

    /// <summary>
    /// The deliveries of <paramref name="source"/> in the order given, the destinations of one record (a run of one tag)
    /// sorted: the order of a multicast's destinations is not part of the contract, the order of records is.
    /// </summary>
    private static List<(ulong, int, int, DeliveryMode, byte)> InPostingOrder(IEnumerable<(ulong Tag, int Source, int, DeliveryMode, byte)> deliveries, int source)
    {
        var ordered = new List<(ulong, int, int, DeliveryMode, byte)>();
        var run = new List<(ulong, int, int, DeliveryMode, byte)>();
        foreach (var delivery in deliveries.Where(d => d.Source == source))
        {
            if (run.Count > 0 && run[0].Item1 != delivery.Tag)
            {
                ordered.AddRange(run.Order());
                run.Clear();
            }
            run.Add(delivery);
        }
        ordered.AddRange(run.Order());
        return ordered;
    }

    /// <summary>What the posted writes resolve to, one vCPU after another (the topology never changes, and the ICR2 latch is per source).</summary>
    private static (ulong, int, int, DeliveryMode, byte)[] Expected(WorkloadScript script, WorkloadDriver driver, ApicTopology topology)
    {
        var resolver = new IcrResolver(topology);
        var destinations = new DestinationSet(topology.VcpuCount);
        var expected = new List<(ulong, int, int, DeliveryMode, byte)>();
        void Resolve(in ExitRecord record)
        {
            var outcome = resolver.Process(record, destinations);
            foreach (var d in destinations.Vcpus)
            {
                expected.Add((record.Tag, record.SourceVcpu, d, outcome.Command.DeliveryMode, outcome.Command.Vector));
            }
        }

        foreach (var record in script.BringUp)
        {
            Resolve(record);
        }

        foreach (var vcpu in script.Vcpus)
        {
            var ipis = driver.PostedIpisOf(vcpu.Vcpu);
            for (var pass = 0L; pass < ipis / vcpu.Ipis; pass++)
            {
                foreach (var record in vcpu.Records)
                {
                    Resolve(record);
                }
            }

            foreach (var record in vcpu.Records.AsSpan(0, vcpu.RecordsForIpis((int)(ipis % vcpu.Ipis))))
            {
                Resolve(record);
            }
        }

        return [.. expected];
    }
}
