using IpiEngine.Apic;

namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>
/// Preallocated x2APIC ICR writes per source vCPU, so a benchmark's posting loop only copies records. Topology:
/// x2APIC cluster with APIC ID = vCPU index (physical destinations address one vCPU, logical ones a cluster's members).
/// </summary>
public static class TrafficRecords
{
    /// <summary>The topology every end-to-end benchmark and baseline uses.</summary>
    public static ApicTopology Topology(int vcpus) => ApicTopology.Configure(vcpus, TopologyKind.X2ApicCluster);

    /// <summary>Destinations an IPI of this traffic reaches on average (for the baselines' accounting).</summary>
    public static ExitRecord[] For(int source, int vcpus, Traffic traffic, int count)
    {
        var records = new ExitRecord[count];
        int clusters = (vcpus + 15) / 16;
        for (int i = 0; i < count; i++)
        {
            uint vector = (uint)(0x20 + (i % 200));
            int kind = traffic switch
            {
                Traffic.Unicast => 0,
                Traffic.Multicast => 1,
                _ => (i % 10) < 7 ? 0 : (i % 10) < 9 ? 1 : 2,
            };
            ulong icr = kind switch
            {
                0 => ((ulong)(uint)((source + 1 + (i % Math.Max(1, vcpus - 1))) % vcpus) << 32) | vector | (1u << 14),
                1 => ((ulong)(((uint)((source / 16 + i) % clusters) << 16) | 0xF) << 32) | vector | (1u << 11) | (1u << 14),
                _ => vector | (1u << 14) | (3u << 18),
            };
            records[i] = ExitRecord.Create((ushort)source, ApicRegister.X2Icr, icr, (uint)(icr >> 32), (ulong)i);
        }

        return records;
    }
}
