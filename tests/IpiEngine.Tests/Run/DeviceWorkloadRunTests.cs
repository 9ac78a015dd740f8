using System.Text.Json;
using IpiEngine.Apic;
using IpiEngine.Workload;
using Xunit;

namespace IpiEngine.Tests.Run;

/// <summary>
/// <c>ipi run --workload</c> with <c>msi</c> and <c>ioapic</c> weights: device threads beside the vCPUs, every input
/// kind conserved, the device inputs equal to their sequential replay; and the generator's device scripts.
/// </summary>
public class DeviceWorkloadRunTests
{
    [Theory]
    [InlineData("single=70,msi=30", "x2apic-cluster", "fused")]
    [InlineData("single=70,ioapic=30", "x2apic-physical", "fused")]
    [InlineData("call=40,pv-ipi=20,msi=20,ioapic=20", "xapic-flat", "per-stage")]
    [InlineData("resched=50,msi=25,ioapic=25", "xapic-cluster", "inline")]
    [InlineData("single=50,msi=25,ioapic=25", "xapic-physical", "fused")]
    [InlineData("single=50,msi=25,ioapic=25", "x2apic-cluster-sparse", "per-stage")]
    public void Device_weights_run_exactly_and_conserve_each_input_kind(string workload, string topology, string threading)
    {
        const int Count = 6000;
        var mix = Mix(workload);
        var json = RunJson("--workload", workload, "--topology", topology, "--threading", threading, "--vcpus", "6", "--devices", "3", "--count", $"{Count}", "--warmup", "0");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.True(json.GetProperty("matchesSequentialReplay").GetBoolean());
        Assert.Equal(Count, json.GetProperty("posted").GetInt64());
        var inputs = json.GetProperty("inputs");
        foreach (var kind in new[] { "icr", "pvIpi", "msi", "ioApic" })
        {
            var k = inputs.GetProperty(kind);
            Assert.True(k.GetProperty("held").GetBoolean(), kind);
            Assert.Equal(k.GetProperty("posted").GetInt64(), k.GetProperty("resolved").GetInt64() + k.GetProperty("rejected").GetInt64() + k.GetProperty("stateOnly").GetInt64());
            Assert.Equal(0, k.GetProperty("rejected").GetInt64()); // the generated inputs are all valid
        }

        // The devices post exactly their weight's share, and each device interrupt fires once (a level pin is never held).
        var msi = inputs.GetProperty("msi").GetProperty("resolved").GetInt64();
        var ioApic = inputs.GetProperty("ioApic").GetProperty("resolved").GetInt64();
        Assert.Equal((long)Count * mix.DeviceWeight / mix.TotalWeight, msi + ioApic);
        Assert.Equal(mix.WeightOf(IpiKind.Msi) > 0, msi > 0);
        Assert.Equal(mix.WeightOf(IpiKind.IoApic) > 0, ioApic > 0);
        Assert.Equal(Count, inputs.GetProperty("icr").GetProperty("posted").GetInt64() + inputs.GetProperty("pvIpi").GetProperty("posted").GetInt64() + msi + ioApic);
        if (ioApic > 0)
        {
            // Every pin assertion is followed by its de-assertion (edge: the pulse; level: after the handler's ack) and
            // every level cycle but the last of each pin by its EOI: the state-only records are at least the assertions.
            Assert.True(inputs.GetProperty("ioApic").GetProperty("stateOnly").GetInt64() >= ioApic);
        }
    }

    [Fact]
    public void A_timed_run_with_devices_keeps_their_share_and_conserves()
    {
        var json = RunJson("--workload", "single=80,msi=10,ioapic=10", "--vcpus", "4", "--devices", "2", "--duration", "0.3s", "--warmup", "0");

        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
        Assert.True(json.GetProperty("matchesSequentialReplay").GetBoolean());
        var inputs = json.GetProperty("inputs");
        var devices = inputs.GetProperty("msi").GetProperty("posted").GetInt64() + inputs.GetProperty("ioApic").GetProperty("resolved").GetInt64();
        Assert.True(devices > 0, "the device threads posted nothing");
        Assert.True(devices <= (json.GetProperty("posted").GetInt64() / 5) + 2, $"devices posted {devices} of {json.GetProperty("posted").GetInt64()}: more than their fifth");
    }

    [Fact]
    public void A_run_without_device_weights_has_no_inputs_section()
    {
        var json = RunJson("--workload", "single=1,pv-ipi=1", "--vcpus", "4", "--count", "2000", "--warmup", "0");

        Assert.False(json.TryGetProperty("inputs", out _));
        Assert.False(json.TryGetProperty("matchesSequentialReplay", out _));
        Assert.True(json.GetProperty("conservationHeld").GetBoolean());
    }

    [Theory]
    [InlineData(new[] { "--workload", "single=1", "--devices", "2" }, "--devices applies to workloads with msi or ioapic weights, e.g. --workload single=80,msi=10,ioapic=10.")]
    [InlineData(new[] { "--workload", "single=1,msi=1", "--devices", "0" }, "--devices must be")]
    [InlineData(new[] { "--workload", "single=1,msi=1", "--devices", "17" }, "--devices must be")]
    [InlineData(new[] { "--workload", "msi=1,ioapic=1" }, "The workload needs at least one IPI kind besides msi and ioapic with a positive weight (the vCPUs send those and take the device interrupts).")]
    [InlineData(new[] { "--workload", "single=1,msi=x" }, "The weight of 'msi' in the workload must be a whole number from 0 to 1000000.")]
    [InlineData(new[] { "--workload", "single=1,ioapic=1", "--nodes", "2" }, "--nodes does not take msi or ioapic weights: the node processes run no device threads yet, so drop --nodes or the device weights.")]
    [InlineData(new[] { "--workload", "ping-pong", "--devices", "1" }, "--devices does not apply to --workload ping-pong")]
    [InlineData(new[] { "--trace", "xapic-flat-smp4", "--devices", "1" }, "--devices applies to generated workloads only, not to trace replays.")]
    public void Bad_device_options_are_refused_in_one_sentence(string[] options, string sentence)
    {
        var (code, output, error) = RunCli.Invoke(["run", .. options, "--count", "100"]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(sentence, error.Trim(), StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData(TopologyKind.XApicFlat, false)]
    [InlineData(TopologyKind.XApicCluster, false)]
    [InlineData(TopologyKind.X2ApicCluster, true)]
    [InlineData(TopologyKind.X2ApicPhysical, true)]
    public void Generated_device_interrupts_are_valid_and_reach_who_they_name(TopologyKind kind, bool sparse)
    {
        const int Vcpus = 8;
        var topology = ApicTopology.Configure(Vcpus, kind, sparse);
        var book = VcpuAddressBook.From(topology, kind);
        var devices = DeviceWorkload.Generate(book, Mix("single=1,msi=1,ioapic=1"), 3, 5, 400);
        var again = DeviceWorkload.Generate(book, Mix("single=1,msi=1,ioapic=1"), 3, 5, 400);
        var map = ApicTopology.Configure(Vcpus, kind, sparse).BuildMap();
        var destinations = new DestinationSet(Vcpus);

        Assert.Equal(devices.Scripts.SelectMany(s => s), again.Scripts.SelectMany(s => s)); // seeded
        Assert.Equal(IoApic.PinCount, devices.EntryWrites.Length);
        for (var d = 0; d < devices.DeviceCount; d++)
        {
            foreach (var e in devices.Scripts[d])
            {
                if (e.Kind == IpiKind.IoApic)
                {
                    Assert.Equal(d, e.Pin % devices.DeviceCount); // device d drives pins d, d + K, ...
                    continue;
                }

                Assert.Equal(RejectReason.None, MsiMessage.Decode(MsiMessage.RecordValue(e.Address, e.Data), (uint)(e.Address >> 32), out var command, out _));
                destinations.Clear();
                map.ResolveInto(Vcpus + d, command, destinations);
                Assert.True(destinations.Count > 0, $"MSI {e.Address:x}/{e.Data:x} reaches no vCPU");
            }
        }

        // Each level pin names exactly its target vCPU, with a vector no other pin uses.
        var resolver = new IcrResolver(ApicTopology.Configure(Vcpus, kind, sparse), deviceSources: 1);
        foreach (var entry in devices.EntryWrites)
        {
            resolver.Process(entry, destinations);
        }

        for (var pin = 0; pin < IoApic.PinCount; pin++)
        {
            var outcome = resolver.Process(new ExitRecord(Vcpus, ApicRegister.IoApicPin, 1, (uint)pin, 0, 0), destinations);
            Assert.Equal(ExitKind.Fired, outcome.Kind);
            Assert.Equal(DeviceWorkload.VectorOf(pin, devices.IsLevel(pin)), outcome.Command.Vector);
            Assert.Single(destinations.Vcpus.ToArray());
            if (devices.IsLevel(pin))
            {
                Assert.Equal(devices.LevelTarget[pin], destinations.Vcpus[0]);
            }
        }
    }

    private static WorkloadMix Mix(string text)
    {
        Assert.True(WorkloadMix.TryParse(text, out var mix, out var error), error);
        return mix!;
    }

    private static JsonElement RunJson(params string[] options) => SyntheticRunTests.RunJson(options);
}
