using System.Globalization;
using System.Text.Json;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>Every case of Vectors/device/ioapic.json, step by step, through the resolver and through an engine's IOAPIC calls.</summary>
public class IoApicVectorTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement c in Load().RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("case").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_step_delivers_refuses_or_only_changes_state_as_written(string name)
    {
        using JsonDocument json = Load();
        JsonElement c = json.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("case").GetString() == name);
        Assert.False(string.IsNullOrEmpty(c.GetProperty("source").GetString()));
        int vcpus = c.GetProperty("vcpus").GetInt32();
        ApicTopology Topology() => ApicTopology.Configure(vcpus, Enum.Parse<TopologyKind>(c.GetProperty("topology").GetString()!));
        var resolver = new IcrResolver(Topology(), deviceSources: 1);
        var set = new DestinationSet(vcpus);
        using var engine = new Engine(new EngineOptions { Topology = Topology(), DeviceSources = 1, ThreadingMode = ThreadingMode.Inline, RingCapacity = 16 });
        engine.Start();
        int step = 0;
        foreach (JsonElement s in c.GetProperty("steps").EnumerateArray())
        {
            step++;
            string op = s.GetProperty("op").GetString()!;
            int pin = s.TryGetProperty("pin", out JsonElement p) ? p.GetInt32() : 0;
            ExitRecord record = op switch
            {
                "entry" => new ExitRecord(0, ApicRegister.IoApicEntry, Hex(s, "value"), (uint)pin, 0, 0),
                "pin" => new ExitRecord((ushort)vcpus, ApicRegister.IoApicPin, (ulong)s.GetProperty("level").GetInt32(), (uint)pin, 0, 0),
                _ => new ExitRecord((ushort)s.GetProperty("vcpu").GetInt32(), ApicRegister.Eoi, Hex(s, "vector"), 0, 0, 0),
            };
            ExitOutcome outcome = resolver.Process(record, set);
            string at = $"{name} step {step} ({op})";
            if (s.TryGetProperty("reject", out JsonElement reject))
            {
                Assert.True(outcome.Kind == ExitKind.Rejected && outcome.Reason == Enum.Parse<RejectReason>(reject.GetString()!), $"{at}: {outcome}");
            }
            else if (s.TryGetProperty("expect", out JsonElement expect))
            {
                Assert.True(outcome.Kind == ExitKind.Fired, $"{at}: {outcome}");
                Assert.Equal(expect.EnumerateArray().Select(e => e.GetInt32()).ToArray(), set.Vcpus.ToArray());
            }
            else
            {
                Assert.True(outcome.Kind == ExitKind.Latched, $"{at}: {outcome}");
            }

            if (pin < IoApic.PinCount) // the engine's calls refuse pin 24 outright (ArgumentOutOfRangeException)
            {
                switch (op)
                {
                    case "entry": engine.WriteIoApicEntry(0, pin, record.Value); break;
                    case "pin": engine.SetIoApicPin(0, pin, record.Value != 0); break;
                    default: engine.PostEoi(record.SourceVcpu, (byte)record.Value); break;
                }

                int[] pending = Enumerable.Range(0, vcpus).Where(engine.HasPending).ToArray();
                foreach (int v in pending)
                {
                    engine.TakePending(v);
                }

                Assert.True((s.TryGetProperty("expect", out JsonElement e2) ? e2.EnumerateArray().Select(x => x.GetInt32()).ToArray() : []).SequenceEqual(pending),
                    $"{at}: the engine made [{string.Join(',', pending)}] pending");
            }
        }

        engine.Stop();
        Assert.True(engine.ReadCounters().ConservationHolds, engine.ReadCounters().ToString());
    }

    private static ulong Hex(JsonElement step, string property)
        => ulong.Parse(step.GetProperty(property).GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static JsonDocument Load()
        => JsonDocument.Parse(File.ReadAllText(RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", "device", "ioapic.json")));
}
