using System.Diagnostics.Metrics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>The public API: options, bad input, back-pressure, stop/drain, notifications, metrics.</summary>
public class EngineApiTests
{
    private const uint X2Icr = ApicRegister.X2Icr;

    [Fact]
    public void Inconsistent_options_are_refused_with_a_clear_message()
    {
        Assert.Contains("power of two", Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 2, RingCapacity = 100 })).Message);
        Assert.Contains("VcpuCount", Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions())).Message);
        Assert.Contains("at most 16777216", Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 1, RingCapacity = 1 << 27 })).Message);
        // 2^30 32-byte records between the per-stage threads: 32 GiB, an OutOfMemoryException rather than this sentence.
        Assert.Contains("from 512 to 16777216", Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 1, ThreadingMode = ThreadingMode.PerStage, PipelineRingSize = 1 << 30 })).Message);
        Assert.Contains("topology has 4", Assert.Throws<ArgumentException>(
            () => new Engine(new EngineOptions { VcpuCount = 2, Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical) })).Message);
        Assert.Contains("Forwarder", Assert.Throws<ArgumentException>(
            () => new Engine(new EngineOptions { VcpuCount = 2, Placement = new VcpuPlacement([0, 1], 0) })).Message);
    }

    [Fact]
    public void Every_rejection_reason_has_a_counter_slot()
    {
        // The slot count is a constant (an inline array's length), so a reason added after the last one must raise it.
        int largest = Enum.GetValues<RejectReason>().Max(r => (int)r);
        Assert.Equal(StageCounters.RejectReasonCount, largest + 1);
    }

    [Fact]
    public void A_sampling_log_spreads_over_a_run_that_overflows_it()
    {
        Assert.Contains("DeliveryLogMode", Assert.Throws<ArgumentException>(
            () => new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 8, DeliveryLogMode = (DeliveryLogMode)7 })).Message);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(
            () => new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 1, DeliveryLogMode = DeliveryLogMode.Sample })).Message);

        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 100, DeliveryLogMode = DeliveryLogMode.Sample });
        engine.Start();
        for (int i = 0; i < 10_000; i++)
        {
            engine.Post(0, X2Icr, Unicast(1, (byte)(0x20 + (i % 200))), 1, tag: (ulong)i);
        }

        engine.Stop();
        ulong[] tags = engine.DeliveryLog!.Entries.ToArray().Select(e => e.Tag).ToArray();
        Assert.InRange(tags.Length, 50, 100);
        Assert.True(tags.Zip(tags.Skip(1)).All(pair => pair.First < pair.Second), "one source's deliveries are logged in order");
        Assert.True(tags[^1] >= 9_000 && tags[0] < 1_000, $"the sample spans the run: first {tags[0]}, last {tags[^1]}");
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(counters.Delivered + counters.Coalesced - tags.Length, engine.DeliveryLog.Overflowed);
        Assert.Equal(engine.DeliveryLog.Overflowed, counters.LogOverflow);
    }

    [Fact]
    public void A_first_mode_log_keeps_the_first_deliveries_and_counts_the_rest_once_full_without_appending_them()
    {
        const int Capacity = 100;
        const int Posts = 10_000; // more than the log holds plus one flush of the batcher (DeliveryBatcher.FlushLimit)
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = Capacity });
        engine.Start();
        for (int i = 0; i < Posts; i++)
        {
            engine.Post(0, X2Icr, Unicast(1, (byte)(0x20 + (i % 200))), 1, tag: (ulong)i);
        }

        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(Posts, counters.Delivered + counters.Coalesced);
        Assert.Equal(Enumerable.Range(0, Capacity).Select(i => (ulong)i), engine.DeliveryLog!.Entries.ToArray().Select(e => e.Tag));
        Assert.Equal(Posts - Capacity, counters.LogOverflow);
        // Only the flush that found the log with room was appended; the batches after it were counted, not offered.
        Assert.InRange(engine.DeliveryLog.Overflowed, 0, DeliveryBatcher<NoNotifier>.FlushLimit - 1);
    }

    [Theory]
    [InlineData(null, true)]   // default with a log: the log can show the stamp, so posts are stamped
    [InlineData(false, false)] // asked not to: never stamped
    [InlineData(true, true)]
    public void Post_timestamps_reach_the_log_unless_switched_off(bool? stamp, bool expectStamped)
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 8, StampPostTime = stamp });
        long before = System.Diagnostics.Stopwatch.GetTimestamp();
        engine.Post(0, X2Icr, Unicast(1, 0x40), 1);
        engine.PostBatch(0, [ExitRecord.Create(0, X2Icr, Unicast(1, 0x41), 1)]);
        engine.Stop();

        DeliveryLogEntry[] entries = engine.DeliveryLog!.Entries.ToArray();
        Assert.Equal(2, entries.Length);
        Assert.All(entries, e => Assert.True(expectStamped ? e.PostTimestamp >= before : e.PostTimestamp == 0, $"post timestamp {e.PostTimestamp}"));
    }

    [Fact]
    public void A_sample_interval_stamps_one_post_in_n_of_each_source_and_leaves_the_rest_zero()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 64, PostTimeSampleInterval = 4 });
        long before = System.Diagnostics.Stopwatch.GetTimestamp();
        for (ulong tag = 0; tag < 12; tag++)
        {
            engine.Post(0, X2Icr, Unicast(1, 0x40), 1, tag);
            engine.Post(1, X2Icr, Unicast(0, 0x41), 0, tag);
        }

        engine.Stop();

        foreach (int source in new[] { 0, 1 })
        {
            DeliveryLogEntry[] entries = engine.DeliveryLog!.Entries.ToArray().Where(e => e.SourceVcpu == source).OrderBy(e => e.Tag).ToArray();
            Assert.Equal(12, entries.Length);
            Assert.Equal([0UL, 4UL, 8UL], entries.Where(e => e.PostTimestamp != 0).Select(e => e.Tag));
            Assert.All(entries.Where(e => e.PostTimestamp != 0), e => Assert.True(e.PostTimestamp >= before));
        }
    }

    [Fact]
    public void With_a_sample_interval_only_a_batch_with_a_stamped_post_reads_the_deliver_time()
    {
        // Inline threading: every post is its own delivery batch, so each entry shows its own batch's choice.
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 2, ThreadingMode = ThreadingMode.Inline, StampPostTime = true, DeliveryLogCapacity = 64, PostTimeSampleInterval = 4,
        });
        engine.Start();
        for (ulong tag = 0; tag < 8; tag++)
        {
            engine.Post(0, X2Icr, Unicast(1, 0x40), 1, tag);
        }

        engine.Stop();

        DeliveryLogEntry[] entries = engine.DeliveryLog!.Entries.ToArray();
        Assert.Equal(8, entries.Length);
        Assert.All(entries, e => Assert.Equal(e.Tag % 4 == 0, e.PostTimestamp != 0));
        Assert.All(entries, e => Assert.Equal(e.PostTimestamp != 0, e.DeliverTimestamp != 0));
        Assert.All(entries, e => Assert.True(e.DeliverTimestamp >= e.PostTimestamp));
    }

    [Fact]
    public void A_sample_interval_stamps_the_firing_write_not_the_xapic_latch_before_it()
    {
        // ICR high, ICR low, ICR high, ...: a stamp on every second record would land on the latches only.
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(2, TopologyKind.XApicPhysical),
            DeliveryLogCapacity = 64,
            PostTimeSampleInterval = 2,
        });
        for (ulong tag = 0; tag < 6; tag++)
        {
            engine.Post(0, ApicRegister.IcrHigh, 1UL << 24, 1, tag);
            engine.Post(0, ApicRegister.IcrLow, 0x40 | (1u << 14), 1, tag);
        }

        engine.Stop();

        DeliveryLogEntry[] entries = engine.DeliveryLog!.Entries.ToArray();
        Assert.Equal(6, entries.Length);
        Assert.All(entries, e => Assert.NotEqual(0, e.PostTimestamp));
    }

    [Fact]
    public void A_sample_interval_below_one_is_refused_with_its_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 2, PostTimeSampleInterval = 0 }));
        Assert.Equal("PostTimeSampleInterval", e.ParamName);
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void Bad_input_is_rejected_with_a_counted_reason_and_the_pipeline_goes_on(ThreadingMode mode)
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 4, ThreadingMode = mode, DeliveryLogCapacity = 64 });
        engine.Start();
        engine.Post(7, X2Icr, Unicast(1, 0x40), 1);              // unknown source vCPU
        engine.Post(-1, X2Icr, Unicast(1, 0x40), 1);             // negative source vCPU
        engine.Post(0, 0x123, 0x40, 0);                          // unknown register
        engine.Post(0, 0x1_0300, 0x40, 0);                  // register past 16 bits
        engine.Post(0, X2Icr, Unicast(1, 0x40, mode: 3), 1);     // reserved delivery mode
        engine.Post(0, X2Icr, Unicast(1, 0x40, mode: 7), 1);     // reserved delivery mode
        engine.Post(0, X2Icr, Unicast(1, 0x05), 1);              // illegal vector
        engine.Post(0, ApicRegister.IcrHigh, 0x0100_0000, 1);    // xAPIC ICR high in x2APIC mode
        engine.PostBatch(9, [ExitRecord.Create(9, X2Icr, Unicast(1, 0x40), 1)]); // unknown source, batch
        Assert.True(engine.TryPost(0, X2Icr, Unicast(1, 0x41), 1, tag: 42)); // a good one after all that
        engine.Stop();

        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(10, counters.Posted);
        Assert.Equal(3, counters.RejectedBy(RejectReason.UnknownSource));
        Assert.Equal(2, counters.RejectedBy(RejectReason.UnknownRegister));
        Assert.Equal(2, counters.RejectedBy(RejectReason.ReservedDeliveryMode));
        Assert.Equal(1, counters.RejectedBy(RejectReason.IllegalVector));
        Assert.Equal(1, counters.RejectedBy(RejectReason.WrongApicMode));
        Assert.Equal(1, counters.IpisResolved);
        Assert.Equal(1, counters.Delivered);
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Equal(42UL, Assert.Single(engine.DeliveryLog!.Entries.ToArray()).Tag);
        Assert.True(engine.TakePending(1).IsPending(0x41));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.TakePending(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.ApplyTopologyWrite(4, ApicRegister.X2Svr, 0x1FF));
        Assert.Throws<ArgumentException>(() => engine.ApplyTopologyWrite(0, X2Icr, 0));
    }

    [Fact]
    public void Posting_before_start_is_delivered_after_start_and_a_full_unstarted_ring_is_a_clear_error()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, RingCapacity = 2 });
        engine.Post(0, X2Icr, Unicast(1, 0x40), 1);
        engine.Post(0, X2Icr, Unicast(1, 0x41), 1);
        Assert.False(engine.TryPost(0, X2Icr, Unicast(1, 0x42), 1));
        Assert.Contains("start it", Assert.Throws<InvalidOperationException>(() => engine.Post(0, X2Icr, Unicast(1, 0x42), 1)).Message);
        engine.Start();
        engine.Stop();
        Assert.Equal(2, engine.TakePending(1).VectorCount);
        Assert.Throws<EngineStoppedException>(() => engine.Post(0, X2Icr, Unicast(1, 0x40), 1));
        Assert.Throws<InvalidOperationException>(engine.Start);
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.Post(0, X2Icr, Unicast(1, 0x40), 1));
    }

    [Theory]
    [InlineData(8, 4096)]
    [InlineData(64, 4096)]   // 64 x 4096 x 32 B = 8 MiB: the budget exactly
    [InlineData(65, 2048)]
    [InlineData(1024, 256)]
    [InlineData(4096, 64)]
    [InlineData(65535, 64)]  // the floor
    public void The_automatic_ring_capacity_keeps_all_rings_within_8_MiB_down_to_64_records(int vcpus, int expected)
    {
        Assert.Equal(expected, EngineOptions.AutomaticRingCapacity(vcpus));
        Assert.Equal(expected, new EngineOptions { VcpuCount = vcpus }.EffectiveRingCapacity(vcpus));
        Assert.Equal(32, new EngineOptions { RingCapacity = 32 }.EffectiveRingCapacity(vcpus));
    }

    [Fact]
    public void A_default_1024_vcpu_engine_has_rings_of_256_records()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 1024 });
        for (int i = 0; i < 256; i++)
        {
            Assert.True(engine.TryPost(1023, X2Icr, Unicast(0, 0x40), 0));
        }

        Assert.False(engine.TryPost(1023, X2Icr, Unicast(0, 0x40), 0)); // unstarted and full: refused, nothing waits
        engine.Start();
        engine.Stop();
        Assert.Equal(256, engine.ReadCounters().IpisResolved);
    }

    [Fact]
    public void Drop_policy_counts_what_a_full_ring_refused()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, RingCapacity = 2, BackPressure = BackPressure.Drop });
        for (int i = 0; i < 5; i++)
        {
            engine.Post(0, X2Icr, Unicast(1, (byte)(0x40 + i)), 1); // not started: the ring fills, the rest drop
        }

        engine.PostBatch(0, [ExitRecord.Create(0, X2Icr, Unicast(1, 0x50), 1)]);
        engine.Start();
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(6, counters.Posted);
        Assert.Equal(4, counters.RejectedBy(RejectReason.Dropped));
        Assert.Equal(2, counters.Delivered);
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void A_slow_notifier_causes_back_pressure_and_nothing_is_lost(ThreadingMode mode)
    {
        int notifications = 0;
        using var engine = new Engine(new EngineOptions
        {
            VcpuCount = 4,
            RingCapacity = 4,
            ThreadingMode = mode,
            PipelineRingSize = 512,
            NotifyCallback = vcpu =>
            {
                Interlocked.Increment(ref notifications);
                Thread.Sleep(1); // a deliberately slow consumer
            },
            DeliveryLogCapacity = 10_000,
        });
        engine.Start();
        const int PerSource = 300;
        var producers = new Thread[4];
        for (int p = 0; p < producers.Length; p++)
        {
            int source = p;
            producers[p] = new Thread(() =>
            {
                for (int i = 0; i < PerSource; i++)
                {
                    engine.Post(source, X2Icr, Unicast((uint)((source + 1) % 4), (byte)(0x20 + (i % 200))), 0, (ulong)(source * PerSource + i));
                    if (i % 50 == 0)
                    {
                        engine.TakePending((source + 1) % 4); // the destination takes now and then: notifications resume
                    }
                }
            }) { IsBackground = true };
            producers[p].Start();
        }

        foreach (Thread producer in producers)
        {
            Assert.True(producer.Join(TimeSpan.FromSeconds(60)));
        }

        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(4 * PerSource, counters.Posted);
        Assert.Equal(4 * PerSource, counters.IpisResolved);
        Assert.Equal(4 * PerSource, engine.DeliveryLog!.Count);
        // Exactly the (tag, destination) pairs posted, each source's in its posting order: a lost delivery and a doubled
        // one cannot cancel out in the count.
        var delivered = new List<(ulong Tag, int Destination)>();
        var lastTagOf = new long[4] { -1, -1, -1, -1 };
        foreach (DeliveryLogEntry entry in engine.DeliveryLog.Entries)
        {
            delivered.Add((entry.Tag, entry.DestinationVcpu));
            Assert.True((long)entry.Tag > lastTagOf[entry.SourceVcpu], $"vCPU {entry.SourceVcpu}'s tag {entry.Tag} delivered after {lastTagOf[entry.SourceVcpu]}");
            lastTagOf[entry.SourceVcpu] = (long)entry.Tag;
        }

        var expected = Enumerable.Range(0, 4 * PerSource).Select(t => ((ulong)t, (t / PerSource + 1) % 4));
        Assert.Equal(expected.Order(), delivered.Order());
        Assert.Equal(counters.Notifications, notifications);
        Assert.True(notifications > 0);
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Fact]
    public void Notification_is_raised_once_until_the_destination_takes()
    {
        var notified = new List<int>();
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, NotifyCallback = notified.Add });
        engine.Post(0, X2Icr, Unicast(1, 0x40), 1);
        engine.Post(0, X2Icr, Unicast(1, 0x41), 1);
        engine.Start();
        engine.Stop();
        Assert.Equal([1], notified); // one batch or two: the outstanding bit suppresses the second
        Assert.True(engine.HasPending(1));
        Assert.Equal(2, engine.TakePending(1).VectorCount);
        Assert.False(engine.HasPending(1));
    }

    [Fact]
    public void Topology_write_before_start_applies_after_what_was_posted_before_it()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2 });
        engine.Post(0, X2Icr, Unicast(1, 0x40), 1);          // vCPU 1 enabled: delivered
        engine.Post(1, ApicRegister.X2Svr, 0x0FF, 0);        // vCPU 1 software-disabled from here on
        engine.Post(0, X2Icr, Unicast(1, 0x41), 1);          // refused by a software-disabled APIC
        engine.Start();
        engine.Stop();
        PendingInterrupts pending = engine.TakePending(1);
        Assert.True(pending.IsPending(0x40));
        Assert.False(pending.IsPending(0x41));
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(1, counters.TopologyWrites);
        Assert.Equal(1, counters.NoDestination);
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Fact]
    public void Counters_are_published_as_observable_instruments()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, Name = "metrics-test" });
        engine.Start();
        engine.Post(0, X2Icr, Unicast(1, 0x40), 1);
        Assert.True(SpinWait.SpinUntil(() => engine.ReadCounters().Delivered == 1, TimeSpan.FromSeconds(10)));
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "engine" && (string?)tag.Value == "metrics-test")
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(1, seen["ipi.posted"]);
        Assert.Equal(1, seen["ipi.delivered"]);
        Assert.Equal(1, seen["ipi.resolved"]);
        // The whole accounting is published: destinations = delivered + coalesced + forwarded + served + unreachable + undelivered.
        Assert.Equal(seen["ipi.destinations"], seen["ipi.delivered"] + seen["ipi.coalesced"] + seen["ipi.forwarded"] + seen["ipi.served_by_host"] + seen["ipi.peer_unreachable"] + seen["ipi.undelivered"]);
        Assert.Equal(0, seen["ipi.notifier_faults"] + seen["ipi.remote_delivered"] + seen["ipi.remote_coalesced"] + seen["ipi.remote_rejected"]);
        engine.Stop();
    }

    [Fact]
    public void Two_engines_of_one_name_are_two_metric_series()
    {
        using var first = new Engine(new EngineOptions { VcpuCount = 2, Name = "twin-metrics" });
        using var second = new Engine(new EngineOptions { VcpuCount = 2, Name = "twin-metrics" });
        first.Start();
        second.Start();
        first.Post(0, X2Icr, Unicast(1, 0x40), 1);
        Assert.True(SpinWait.SpinUntil(() => first.ReadCounters().Delivered == 1, TimeSpan.FromSeconds(10)));
        var posted = new List<(object? Instance, long Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineMetrics.MeterName && instrument.Name == "ipi.posted")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var all = tags.ToArray();
            if (all.Any(t => t.Key == "engine" && (string?)t.Value == "twin-metrics"))
            {
                posted.Add((all.SingleOrDefault(t => t.Key == "engine.instance").Value, value));
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(2, posted.Count);
        Assert.Equal(2, posted.Select(p => p.Instance).Distinct().Count()); // one name, two tag sets: an exporter keeps both
        Assert.Equal([0L, 1L], posted.Select(p => p.Value).Order());
    }

    [Fact]
    public void Per_stage_mode_takes_runs_longer_than_its_pipeline_ring()
    {
        // A vCPU ring of 4096 drained in runs of up to 1024 into a 512-entry pipeline ring.
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, ThreadingMode = ThreadingMode.PerStage, PipelineRingSize = 512 });
        var records = new ExitRecord[3000];
        for (int i = 0; i < records.Length; i++)
        {
            records[i] = ExitRecord.Create(0, X2Icr, Unicast(1, (byte)(0x20 + (i % 200))), 1, (ulong)i);
        }

        engine.PostBatch(0, records); // before start: the whole batch waits in the vCPU ring
        engine.Start();
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(records.Length, counters.IpisResolved);
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Throws<EngineStoppedException>(() => engine.ApplyTopologyWrite(0, ApicRegister.X2Svr, 0x1FF));
    }

    [Theory]
    [InlineData(new uint[] { 1, 2, 3 }, 3u)]                           // one stretch of unicasts: the last one's destination
    [InlineData(new uint[] { 1, 0xFFFF_FFFF, 2 }, 2u)]                 // a broadcast between two stretches, each in order
    [InlineData(new uint[] { 1, 2, 0xFFFF_FFFF }, 0xFFFF_FFFFu)]       // the full resolution after a stretch sees its latch, then sets its own
    public void An_x2apic_icr_write_latches_its_destination_as_icr_high_in_the_order_posted(uint[] destinations, uint latched)
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 4 });
        ExitRecord[] records = [.. destinations.Select((d, i) => ExitRecord.Create(0, X2Icr, Unicast(d, (byte)(0x40 + i)), d))];
        engine.PostBatch(0, records); // one run of one ring: the fast lane takes the unicasts as stretches
        engine.Start();
        engine.Stop();
        Assert.Equal(latched, engine.Resolver.SourceLatches(0).IcrHigh);
        Assert.Equal(destinations.Length, engine.ReadCounters().IpisResolved);
        Assert.True(engine.TakePending(destinations[0] == 0xFFFF_FFFF ? 1 : (int)destinations[0]).IsPending(0x40));
    }

    [Fact]
    public void Flags_coalesce_and_the_latest_sipi_vector_wins()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2 });
        engine.Post(0, X2Icr, Unicast(1, 0x10, mode: 6), 1); // SIPI, page 0x10
        engine.Post(0, X2Icr, Unicast(1, 0x20, mode: 6), 1); // SIPI, page 0x20: same batch
        engine.Post(0, X2Icr, Unicast(1, 0x00, mode: 4), 1); // NMI
        engine.Post(0, X2Icr, Unicast(1, 0x00, mode: 4), 1); // NMI again: coalesces
        engine.Start();
        engine.Stop();
        PendingInterrupts pending = engine.TakePending(1);
        Assert.True(pending.Sipi);
        Assert.Equal(0x20, pending.SipiVector);
        Assert.True(pending.Nmi);
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(2, counters.Delivered);
        Assert.Equal(2, counters.Coalesced);
        Assert.True(counters.ConservationHolds, counters.ToString());
    }
}
