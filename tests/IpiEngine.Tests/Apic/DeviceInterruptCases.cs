using System.Globalization;
using System.Text.Json;
using IpiEngine.Apic;

namespace IpiEngine.Tests.Apic;

/// <summary>One case of Vectors/device/device-interrupts.json: a topology, an MSI or a PV IPI, and what it must do.</summary>
public sealed record DeviceInterruptCase(string Name, TopologyKind Kind, int Vcpus, bool Sparse, bool IsMsi, ulong[] Input, int[]? Expect, RejectReason? Reject)
{
    public override string ToString() => Name;

    /// <summary>The input as the records the engine's rings carry: an MSI from device source <paramref name="device"/>, or a PV IPI's two halves from vCPU 0.</summary>
    internal ExitRecord[] Records(int device)
        => IsMsi
            ? [new ExitRecord((ushort)(Vcpus + device), ApicRegister.Msi, MsiMessage.RecordValue(Input[0], (uint)Input[1]), (uint)(Input[0] >> 32), 0, 0)]
            : [new ExitRecord(0, ApicRegister.PvSendIpiHigh, Input[1], (uint)Input[3], 0, 0), new ExitRecord(0, ApicRegister.PvSendIpi, Input[0], (uint)Input[2], 0, 0)];

    internal ApicTopology Topology() => ApicTopology.Configure(Vcpus, Kind, Sparse);
}

/// <summary>Loads the device-interrupt vectors.</summary>
internal static class DeviceInterruptCases
{
    public static readonly string File = RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", "device", "device-interrupts.json");

    public static IReadOnlyList<DeviceInterruptCase> All { get; } = Load();

    private static List<DeviceInterruptCase> Load()
    {
        using JsonDocument json = JsonDocument.Parse(System.IO.File.ReadAllText(File));
        var cases = new List<DeviceInterruptCase>();
        foreach (JsonElement c in json.RootElement.GetProperty("cases").EnumerateArray())
        {
            bool msi = c.TryGetProperty("msi", out JsonElement input);
            if (!msi)
            {
                input = c.GetProperty("pvIpi");
            }

            string[] fields = msi ? ["address", "data"] : ["a0", "a1", "a2", "a3"];
            ulong[] values = fields.Select(f => ulong.Parse(input.GetProperty(f).GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            cases.Add(new DeviceInterruptCase(
                c.GetProperty("case").GetString()!,
                Enum.Parse<TopologyKind>(c.GetProperty("topology").GetString()!),
                c.GetProperty("vcpus").GetInt32(),
                c.TryGetProperty("sparse", out JsonElement sparse) && sparse.GetBoolean(),
                msi,
                values,
                c.TryGetProperty("expect", out JsonElement expect) ? expect.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null,
                c.TryGetProperty("reject", out JsonElement reject) ? Enum.Parse<RejectReason>(reject.GetString()!) : null));
            if (string.IsNullOrEmpty(c.GetProperty("source").GetString()) || (cases[^1].Expect is null) == (cases[^1].Reject is null))
            {
                throw new InvalidDataException($"{File}: case {cases[^1].Name} needs a source and exactly one of expect and reject.");
            }
        }

        return cases;
    }
}
