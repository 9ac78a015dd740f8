using IpiEngine.Apic;
using IpiEngine.Pipeline;
using IpiEngine.Trace;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// A random but reproducible workload for the concurrent engine: per source vCPU, per epoch, a mix of unicast,
/// multicast, broadcast, shorthand, NMI/INIT/SIPI and bad records; topology writes between epochs (every producer
/// waits at a barrier around them). Its sequential reference is the same records through <see cref="SequentialReplay"/>,
/// epoch by epoch: within an epoch the map is fixed and latches are per source, so cross-source order cannot matter.
/// </summary>
internal sealed class StressScenario
{
    private readonly List<ExitRecord>[][] _records; // [epoch][vcpu]
    private readonly List<ExitRecord>[] _topologyWrites; // [epoch]: applied after that epoch

    public StressScenario(int vcpus, bool x2Apic, int epochs, int recordsPerVcpuPerEpoch, int seed)
    {
        VcpuCount = vcpus;
        X2Apic = x2Apic;
        var random = new Random(seed);
        ulong tag = 0;
        _records = new List<ExitRecord>[epochs][];
        _topologyWrites = new List<ExitRecord>[epochs];
        for (int e = 0; e < epochs; e++)
        {
            _records[e] = new List<ExitRecord>[vcpus];
            for (int v = 0; v < vcpus; v++)
            {
                var list = new List<ExitRecord>();
                for (int i = 0; i < recordsPerVcpuPerEpoch; i++)
                {
                    AddRandom(list, random, v, ref tag);
                }

                _records[e][v] = list;
            }

            // Toggle a random vCPU's software enable (fixed IPIs to it start or stop being accepted).
            int target = random.Next(vcpus);
            ulong svr = random.Next(2) == 0 ? 0x0FFUL : 0x1FFUL;
            _topologyWrites[e] = [ExitRecord.Create((ushort)target, x2Apic ? ApicRegister.X2Svr : ApicRegister.Svr, svr, 0, tag++)];
        }
    }

    public int VcpuCount { get; }

    public bool X2Apic { get; }

    public int Epochs => _records.Length;

    public ApicTopology NewTopology()
        => ApicTopology.Configure(VcpuCount, X2Apic ? TopologyKind.X2ApicCluster : TopologyKind.XApicFlat);

    public IReadOnlyList<ExitRecord> Records(int epoch, int vcpu) => _records[epoch][vcpu];

    public IReadOnlyList<ExitRecord> TopologyWrites(int epoch) => _topologyWrites[epoch];

    public int TotalRecords => _records.Sum(e => e.Sum(v => v.Count)) + _topologyWrites.Sum(t => t.Count);

    /// <summary>The sequential reference: every record in a valid global order through the resolver alone.</summary>
    public ReplayResult Reference()
    {
        var all = new List<ExitRecord>();
        for (int e = 0; e < Epochs; e++)
        {
            foreach (List<ExitRecord> list in _records[e])
            {
                all.AddRange(list);
            }

            all.AddRange(_topologyWrites[e]);
        }

        return SequentialReplay.Run(NewTopology(), all.ToArray());
    }

    private void AddRandom(List<ExitRecord> list, Random random, int source, ref ulong tag)
    {
        int pick = random.Next(100);
        byte vector = (byte)(0x20 + random.Next(0xD0)); // legal vectors, some repeated (coalescing)
        uint mode = 0;
        uint shorthand = 0;
        bool logical = false;
        uint destination;
        if (pick < 45)
        {
            destination = PhysicalId(random.Next(VcpuCount)); // unicast
        }
        else if (pick < 60)
        {
            logical = true; // multicast
            destination = X2Apic ? (uint)(random.Next((VcpuCount + 15) / 16) << 16) | (uint)random.Next(1, 0x10000) : (uint)random.Next(1, 256);
        }
        else if (pick < 65)
        {
            destination = X2Apic ? 0xFFFFFFFFu : 0xFFu; // broadcast
        }
        else if (pick < 75)
        {
            destination = 0;
            shorthand = (uint)random.Next(1, 4); // self, all including self, all excluding self
        }
        else if (pick < 80)
        {
            mode = 1; // lowest priority to a logical set
            logical = true;
            destination = X2Apic ? (uint)random.Next(1, 0x10000) : (uint)random.Next(1, 256);
        }
        else if (pick < 88)
        {
            mode = (uint)(random.Next(3) switch { 0 => 4, 1 => 2, _ => random.Next(2) == 0 ? 5 : 6 }); // NMI, SMI, INIT, SIPI
            destination = PhysicalId(random.Next(VcpuCount));
        }
        else
        {
            AddBad(list, random, source, ref tag);
            return;
        }

        uint low = vector | (mode << 8) | (logical ? 1u << 11 : 0) | (1u << 14) | (shorthand << 18);
        AddIcr(list, source, low, destination, ref tag);
    }

    private void AddBad(List<ExitRecord> list, Random random, int source, ref ulong tag)
    {
        switch (random.Next(5))
        {
            case 0:
                AddIcr(list, source, 0x20u | (3u << 8) | (1u << 14), PhysicalId(0), ref tag); // reserved delivery mode
                break;
            case 1:
                AddIcr(list, source, 0x05u | (1u << 14), PhysicalId(0), ref tag); // illegal vector
                break;
            case 2:
                list.Add(ExitRecord.Create((ushort)source, 0x123, 0x40, 0, tag++)); // unknown register
                break;
            case 3:
                list.Add(ExitRecord.Create((ushort)(VcpuCount + 3), X2Apic ? ApicRegister.X2Icr : ApicRegister.IcrLow, 0x4040, 0, tag++)); // unknown source
                break;
            default:
                // the other mode's ICR register: the hardware faults, counted as WrongApicMode
                list.Add(ExitRecord.Create((ushort)source, X2Apic ? ApicRegister.IcrLow : ApicRegister.X2Icr, 0x4040, 0, tag++));
                break;
        }
    }

    private void AddIcr(List<ExitRecord> list, int source, uint low, uint destination, ref ulong tag)
    {
        if (X2Apic)
        {
            list.Add(ExitRecord.Create((ushort)source, ApicRegister.X2Icr, ((ulong)destination << 32) | low, destination, tag++));
            return;
        }

        list.Add(ExitRecord.Create((ushort)source, ApicRegister.IcrHigh, (ulong)destination << 24, destination, tag++));
        list.Add(ExitRecord.Create((ushort)source, ApicRegister.IcrLow, low, destination, tag++));
    }

    private static uint PhysicalId(int vcpu) => (uint)vcpu; // Configure: APIC ID = vCPU index (dense)
}
