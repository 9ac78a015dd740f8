using System.Text.Json;
using IpiEngine.Apic;
using IpiEngine.Cli.Run;
using IpiEngine.Perf.Calibration;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>ipi run --workload call-single|tlb-shootdown|ping-pong</c>: every sender completes its round trips, every
/// request is acked exactly once, every IPI the vCPUs posted is one the engine resolved; counted runs, bounded in time.
/// </summary>
public class ClosedLoopRunTests
{
    private const int RoundTrips = 3000;

    [Theory]
    [InlineData("x2apic-cluster", "fused")]
    [InlineData("x2apic-physical", "per-stage")]
    [InlineData("xapic-flat", "fused")]
    [InlineData("xapic-physical", "inline")]
    public void Ping_pong_bounces_each_ipi_exactly_once(string topology, string threading)
    {
        var json = SyntheticRunTests.RunJson("--workload", "ping-pong", "--vcpus", "4", "--topology", topology, "--threading", threading, "--count", $"{RoundTrips}", "--warmup", "0");

        var loop = json.GetProperty("closedLoop");
        Assert.Equal(RoundTrips, loop.GetProperty("roundTrips").GetInt64());
        Assert.Equal(RoundTrips, loop.GetProperty("acks").GetInt64()); // one answer per ping
        Assert.Equal(0, loop.GetProperty("violations").GetInt64());
        Assert.Equal(2 * RoundTrips, json.GetProperty("posted").GetInt64()); // a ping and its answer
        Assert.Equal(2 * RoundTrips, json.GetProperty("delivered").GetInt64()); // one in flight per pair: nothing to merge with
        Assert.Equal(0, json.GetProperty("coalesced").GetInt64());
        Assert.Equal(2 * RoundTrips, json.GetProperty("pendingTakes").GetInt64()); // each taken once, by its target
        AssertRoundTripLatency(loop, RoundTrips);
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        // One IPI in flight per pair arrives far below the streaming rate, so the gathering thread never waits for more;
        // inline mode has no gathering thread and reports nothing.
        if (threading == "inline")
            Assert.False(json.TryGetProperty("thinPassWaits", out _));
        else
            Assert.Equal(0, json.GetProperty("thinPassWaits").GetInt64());
    }

    [Theory]
    [InlineData("x2apic-cluster", 6)]
    [InlineData("xapic-physical", 5)]
    public void Call_single_acks_every_call_exactly_once(string topology, int vcpus)
    {
        var json = SyntheticRunTests.RunJson("--workload", "call-single", "--vcpus", $"{vcpus}", "--topology", topology, "--count", $"{RoundTrips}", "--warmup", "0");

        var loop = json.GetProperty("closedLoop");
        Assert.Equal(RoundTrips, loop.GetProperty("roundTrips").GetInt64());
        Assert.Equal(RoundTrips, loop.GetProperty("acks").GetInt64());
        Assert.Equal(0, loop.GetProperty("violations").GetInt64());
        Assert.Equal(RoundTrips, json.GetProperty("posted").GetInt64());
        Assert.Equal(RoundTrips, json.GetProperty("delivered").GetInt64() + json.GetProperty("coalesced").GetInt64());
        AssertRoundTripLatency(loop, RoundTrips);
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.Equal(0, json.GetProperty("thinPassWaits").GetInt64()); // a call waits for its answer: never a stream
    }

    [Theory]
    [InlineData("x2apic-physical", "fused")]
    [InlineData("x2apic-cluster", "per-stage")]
    [InlineData("xapic-flat", "fused")]
    public void A_tlb_shootdown_waits_for_every_target_and_each_acks_once(string topology, string threading)
    {
        var json = SyntheticRunTests.RunJson("--workload", "tlb-shootdown", "--vcpus", "6", "--topology", topology, "--threading", threading, "--count", $"{RoundTrips}", "--warmup", "0");

        var loop = json.GetProperty("closedLoop");
        Assert.Equal(RoundTrips, loop.GetProperty("roundTrips").GetInt64());
        Assert.Equal(3 * RoundTrips, loop.GetProperty("acks").GetInt64()); // a set of 3 targets per shootdown
        Assert.Equal(0, loop.GetProperty("violations").GetInt64());
        Assert.Equal(3 * RoundTrips, json.GetProperty("delivered").GetInt64() + json.GetProperty("coalesced").GetInt64());
        if (topology == "x2apic-physical")
        {
            Assert.Equal(3 * RoundTrips, json.GetProperty("posted").GetInt64()); // physical mode: one write per target
        }

        AssertRoundTripLatency(loop, RoundTrips);
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
    }

    [Fact]
    public void A_timed_closed_loop_ends_by_itself_and_reports_its_rate()
    {
        var json = SyntheticRunTests.RunJson("--workload", "call-single", "--vcpus", "4", "--duration", "300ms", "--warmup", "50ms");

        var loop = json.GetProperty("closedLoop");
        var trips = loop.GetProperty("roundTrips").GetInt64();
        Assert.True(trips > 0, "no round trip in 300 ms");
        Assert.Equal(trips, loop.GetProperty("acks").GetInt64());
        Assert.InRange(json.GetProperty("durationSeconds").GetDouble(), 0.25, 60);
        Assert.InRange(loop.GetProperty("roundTripsPerSecond").GetDouble(), 0.5 * trips / 60, 1.01 * trips / 0.25);
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
    }

    [Fact]
    public void A_counted_run_is_timed_from_the_first_post_to_the_last_ack_not_by_the_controllers_polling()
    {
        var json = SyntheticRunTests.RunJson("--workload", "ping-pong", "--vcpus", "2", "--count", "2", "--warmup", "50ms");

        var loop = json.GetProperty("closedLoop");
        Assert.Equal(2, loop.GetProperty("roundTrips").GetInt64());
        var max = loop.GetProperty("roundTripLatencyNs").GetProperty("max").GetInt64();
        var seconds = json.GetProperty("durationSeconds").GetDouble();
        // One sender, two round trips back to back: the window is their two latencies and the step between them (the
        // controller polls every millisecond; its poll and the threads' wake-up are not the round trips' time).
        Assert.True(seconds * 1e9 <= (2.1 * max) + 100_000, $"{seconds * 1e9:0} ns for two round trips of at most {max} ns");
        Assert.Equal(2 / seconds, loop.GetProperty("roundTripsPerSecond").GetDouble(), 6);
    }

    [Fact]
    public void An_abandoned_round_trip_is_neither_counted_nor_timed()
    {
        var kind = TopologyKind.X2ApicPhysical;
        using var engine = new Engine(new EngineOptions { Topology = ApicTopology.Configure(4, kind) });
        // The vCPUs address APIC IDs the engine's VM does not have: every call goes nowhere, and no ack ever comes.
        var nowhere = VcpuAddressBook.From(ApicTopology.Reset([100, 101, 102, 103]), kind);
        engine.Start();
        using var driver = new ClosedLoopDriver(engine, nowhere, ClosedLoopKind.CallSingle, roundTrips: 40, seed: 1);
        driver.Start();
        driver.Go();
        Thread.Sleep(50);
        Assert.Equal(0, driver.RoundTrips);

        driver.Abandon();
        Assert.True(SpinWait.SpinUntil(() => driver.SendersFinished, TimeSpan.FromSeconds(10)), "the senders did not give up");
        var latency = driver.Join();
        engine.Stop();

        Assert.Equal(0, driver.RoundTrips);
        Assert.Equal(0, latency.Samples);
        Assert.Equal(0, driver.SendingSeconds);
        Assert.True(driver.Violations > 0); // the run reports the ack it never got
    }

    [Theory]
    [InlineData(new[] { "--workload", "ping-pong", "--vcpus", "3" }, "--workload ping-pong pairs the vCPUs: give an even --vcpus of at least 2, not 3.")]
    [InlineData(new[] { "--workload", "call-single", "--vcpus", "1" }, "--workload call-single needs at least 2 vCPUs (a vCPU does not call itself), not 1.")]
    [InlineData(new[] { "--workload", "call-single", "--rate", "1M" }, "--rate does not apply to --workload call-single: a closed loop posts one IPI and waits for its ack, on one engine.")]
    [InlineData(new[] { "--workload", "tlb-shootdown", "--batch", "4" }, "--batch does not apply to --workload tlb-shootdown: a closed loop posts one IPI and waits for its ack, on one engine.")]
    [InlineData(new[] { "--workload", "ping-pong", "--vcpus", "4", "--count", "1" }, "--count with --workload ping-pong is round trips shared over the 2 sending vCPUs: give at least 2, not 1.")]
    [InlineData(new[] { "--workload", "ping-pong", "--vcpus", "300" }, "--vcpus must be a whole number from 1 to 256, not '300'.")]
    [InlineData(new[] { "--workload", "ping-pong", "--baseline" }, "--baseline compares open-loop throughput; it does not apply to --workload ping-pong.")]
    [InlineData(new[] { "--trace", "xapic-flat-smp4", "--baseline" }, "--baseline applies to a generated workload on one engine, not to --nodes or trace replays.")]
    [InlineData(new[] { "--rate", "1M", "--baseline" }, "--baseline compares unpaced throughput with the probe's; it does not apply to --rate.")]
    [InlineData(new[] { "--baseline-queue" }, "--baseline-queue adds a turn to --baseline's: give --baseline too.")]
    [InlineData(new[] { "--workload", "single=80,msi=20", "--baseline" }, "--baseline compares the vCPUs' IPIs with the probe's; it does not apply to a workload with msi or ioapic weights.")]
    public void Bad_closed_loop_and_baseline_input_is_one_sentence_and_exit_code_2(string[] args, string sentence)
    {
        var (code, output, error) = RunCli.Invoke(["run", .. args]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(sentence, error.Trim());
    }

    [Fact]
    public void The_baseline_runs_the_probe_for_the_same_window_and_reports_the_ratio()
    {
        var json = SyntheticRunTests.RunJson("--workload", "unicast", "--vcpus", "4", "--batch", "16", "--duration", "200ms", "--warmup", "50ms", "--latency-samples", "0", "--baseline");

        var baseline = json.GetProperty("baseline");
        var probeRate = baseline.GetProperty("probeIpisPerSecond").GetDouble();
        Assert.True(probeRate > 0, "the probe moved nothing");
        Assert.Equal(0, baseline.GetProperty("probeSequenceErrors").GetInt64());
        Assert.InRange(baseline.GetProperty("probeSeconds").GetDouble(), 0.15, 60);
        Assert.Equal(json.GetProperty("ipisPerSecond").GetDouble() / probeRate, baseline.GetProperty("engineToProbe").GetDouble(), 6);
    }

    [Fact]
    public void The_baseline_takes_turns_with_the_engine_and_compares_them_per_core_state()
    {
        var json = SyntheticRunTests.RunJson("--workload", "unicast", "--vcpus", "4", "--batch", "16", "--duration", "1200ms", "--warmup", "100ms", "--latency-samples", "0", "--baseline");

        var baseline = json.GetProperty("baseline");
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.Equal(0.5, baseline.GetProperty("sliceSeconds").GetDouble());
        var slices = baseline.GetProperty("slices").EnumerateArray().ToArray();
        Assert.Equal(6, slices.Length); // 0.5 + 0.5 + 0.2 s of the engine, each followed by the probe for as long
        double engineSeconds = 0, probeSeconds = 0;
        long engineCount = 0, probeCount = 0;
        for (var i = 0; i < slices.Length; i++)
        {
            var slice = slices[i];
            var (seconds, count) = (slice.GetProperty("seconds").GetDouble(), slice.GetProperty("count").GetInt64());
            Assert.Equal(i % 2 == 0 ? "engine" : "probe", slice.GetProperty("run").GetString());
            Assert.True(count > 0, $"slice {i} moved nothing");
            Assert.Equal(count / seconds, slice.GetProperty("perSecond").GetDouble(), 6);
            var before = Reading(slice, "roundTripBeforeNs");
            var after = Reading(slice, "roundTripAfterNs");
            Assert.Equal(CoreDistanceThresholds.Default.Classify(before, after).ToString(), slice.GetProperty("state").GetString());
            if (i > 0)
            {
                Assert.Equal(Reading(slices[i - 1], "roundTripAfterNs"), before); // one reading between two turns
            }

            if (i % 2 == 0)
            {
                (engineSeconds, engineCount) = (engineSeconds + seconds, engineCount + count);
            }
            else
            {
                Assert.Equal(slices[i - 1].GetProperty("seconds").GetDouble(), seconds, 1); // the probe runs as long as the engine did
                (probeSeconds, probeCount) = (probeSeconds + seconds, probeCount + count);
            }
        }

        Assert.Equal(json.GetProperty("durationSeconds").GetDouble(), engineSeconds, tolerance: 1e-6); // the window is the engine's turns (a tolerance: rounding both to 6 places failed once on 1.2039705 against 1.2039706)
        Assert.InRange(json.GetProperty("ipisPerSecond").GetDouble() / (engineCount / engineSeconds), 1 - 1e-6, 1 + 1e-6); // the window is kept in 100 ns ticks
        Assert.Equal(probeSeconds, baseline.GetProperty("probeSeconds").GetDouble(), tolerance: 1e-6); // a sum of the slices' seconds against the total
        Assert.Equal(probeCount, baseline.GetProperty("probeRecords").GetInt64());
        var states = baseline.GetProperty("byState").EnumerateArray().ToArray();
        Assert.Equal(new[] { "Near", "Far" }, states.Select(s => s.GetProperty("state").GetString()));
        AssertComparedPerState(states, slices, "probe", "probeSlices", "engineToProbe");
    }

    [Fact]
    public void The_queue_baseline_takes_a_third_turn_and_compares_it_with_the_engine_per_core_state()
    {
        var json = SyntheticRunTests.RunJson("--workload", "unicast", "--vcpus", "4", "--batch", "1", "--duration", "700ms", "--warmup", "100ms", "--latency-samples", "0",
            "--baseline", "--baseline-queue");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        var baseline = json.GetProperty("baseline");
        var slices = baseline.GetProperty("slices").EnumerateArray().ToArray();
        Assert.Equal(6, slices.Length); // 0.5 + 0.2 s of the engine, each followed by the probe, then the queue, for as long
        for (var i = 0; i < slices.Length; i++)
        {
            Assert.Equal((i % 3) switch { 0 => "engine", 1 => "probe", _ => "queue" }, slices[i].GetProperty("run").GetString());
            Assert.True(slices[i].GetProperty("count").GetInt64() > 0, $"slice {i} moved nothing");
            if (i > 0)
            {
                Assert.Equal(Reading(slices[i - 1], "roundTripAfterNs"), Reading(slices[i], "roundTripBeforeNs")); // one reading between two turns
            }

            if (i % 3 != 0)
            {
                Assert.Equal(slices[i - (i % 3)].GetProperty("seconds").GetDouble(), slices[i].GetProperty("seconds").GetDouble(), 1); // as long as the engine
            }
        }

        var queueSlices = slices.Where(s => s.GetProperty("run").GetString() == "queue").ToArray();
        var queue = baseline.GetProperty("queue");
        Assert.Equal(0, queue.GetProperty("queueSequenceErrors").GetInt64());
        Assert.Equal(queueSlices.Sum(s => s.GetProperty("count").GetInt64()), queue.GetProperty("queueRecords").GetInt64());
        Assert.Equal(queueSlices.Sum(s => s.GetProperty("seconds").GetDouble()), queue.GetProperty("queueSeconds").GetDouble(), tolerance: 1e-6); // a sum against the total: a tolerance, not rounding to 6 places
        var queueRate = queue.GetProperty("queueIpisPerSecond").GetDouble();
        Assert.Equal(queue.GetProperty("queueRecords").GetInt64() / queue.GetProperty("queueSeconds").GetDouble(), queueRate, 6);
        Assert.Equal(json.GetProperty("ipisPerSecond").GetDouble() / queueRate, queue.GetProperty("engineToQueue").GetDouble(), 6);
        Assert.Equal(baseline.GetProperty("probeRecords").GetInt64(), slices.Where(s => s.GetProperty("run").GetString() == "probe").Sum(s => s.GetProperty("count").GetInt64()));
        AssertComparedPerState(queue.GetProperty("byState").EnumerateArray().ToArray(), slices, "queue", "queueSlices", "engineToQueue");
        if (OperatingSystem.IsLinux())
        {
            AssertReferenceCpu(baseline.GetProperty("cpu"), baseline.GetProperty("probeRecords").GetInt64(), baseline.GetProperty("probeSeconds").GetDouble());
            AssertReferenceCpu(queue.GetProperty("cpu"), queue.GetProperty("queueRecords").GetInt64(), queue.GetProperty("queueSeconds").GetDouble());
        }
    }

    [Fact]
    public void Without_the_queue_baseline_there_is_no_queue_turn()
    {
        var json = SyntheticRunTests.RunJson("--workload", "unicast", "--vcpus", "2", "--batch", "4", "--duration", "200ms", "--warmup", "0", "--latency-samples", "0", "--baseline");

        var baseline = json.GetProperty("baseline");
        Assert.False(baseline.TryGetProperty("queue", out _));
        Assert.DoesNotContain(baseline.GetProperty("slices").EnumerateArray(), s => s.GetProperty("run").GetString() == "queue");
    }

    /// <summary>Each state's entry counts that state's engine and reference slices and compares their rates, as the JSON says.</summary>
    private static void AssertComparedPerState(JsonElement[] states, JsonElement[] slices, string reference, string referenceSlices, string ratioName)
    {
        foreach (var state in states)
        {
            var name = state.GetProperty("state").GetString();
            var engine = slices.Where(s => s.GetProperty("run").GetString() == "engine" && s.GetProperty("state").GetString() == name).ToArray();
            var other = slices.Where(s => s.GetProperty("run").GetString() == reference && s.GetProperty("state").GetString() == name).ToArray();
            Assert.Equal(engine.Length, state.GetProperty("engineSlices").GetInt32());
            Assert.Equal(other.Length, state.GetProperty(referenceSlices).GetInt32());
            Assert.Equal(engine.Length > 0 && other.Length > 0, state.TryGetProperty(ratioName, out var ratio));
            if (engine.Length > 0 && other.Length > 0)
            {
                var expected = (engine.Sum(s => s.GetProperty("count").GetInt64()) / engine.Sum(s => s.GetProperty("seconds").GetDouble()))
                    / (other.Sum(s => s.GetProperty("count").GetInt64()) / other.Sum(s => s.GetProperty("seconds").GetDouble()));
                Assert.Equal(expected, ratio.GetDouble(), 6);
            }
        }
    }

    /// <summary>A rig's CPU over its turns: its consumer and producers ran (each spins while records flow), per record as the JSON says.</summary>
    private static void AssertReferenceCpu(JsonElement cpu, long records, double seconds)
    {
        var consumer = cpu.GetProperty("consumerSeconds").GetDouble();
        var producers = cpu.GetProperty("producerSeconds").GetDouble();
        Assert.True(consumer > 0 && producers > 0, $"consumer {consumer} s, producers {producers} s over {seconds} s of turns");
        Assert.True(consumer + producers <= (seconds * Environment.ProcessorCount) + 0.05, $"{consumer + producers} s of CPU in {seconds} s");
        Assert.Equal(records, cpu.GetProperty("records").GetInt64());
        Assert.Equal(seconds, cpu.GetProperty("turnSeconds").GetDouble(), 9);
        Assert.Equal(consumer * 1e9 / records, cpu.GetProperty("consumerNsPerRecord").GetDouble(), 6);
        Assert.Equal(producers / seconds, cpu.GetProperty("producerCores").GetDouble(), 9);
    }

    private static double? Reading(JsonElement slice, string name)
        => slice.TryGetProperty(name, out var value) ? value.GetDouble() : null;

    private static void AssertRoundTripLatency(JsonElement loop, long roundTrips)
    {
        var latency = loop.GetProperty("roundTripLatencyNs");
        Assert.Equal(roundTrips, latency.GetProperty("samples").GetInt64());
        var (p50, p99, p999, max) = (latency.GetProperty("p50").GetInt64(), latency.GetProperty("p99").GetInt64(), latency.GetProperty("p999").GetInt64(), latency.GetProperty("max").GetInt64());
        Assert.True(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= max, $"percentiles out of order: {p50} {p99} {p999} {max}");
    }
}
