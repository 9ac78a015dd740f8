using BenchmarkDotNet.Attributes;
using IpiEngine.Apic;
using IpiEngine.Benchmarks.Infrastructure;
using IpiEngine.Perf.Suite;

namespace IpiEngine.Benchmarks.Apic;

/// <summary>
/// Resolution cost of the device inputs beside the ICR's (issue 16): an MSI (address/data decode, then the same
/// <see cref="DestinationMap"/>) and a <c>KVM_HC_SEND_IPI</c> (two records: the latched upper half, then the bitmap walk),
/// each against an x2APIC ICR write reaching the same vCPUs, all through <see cref="IcrResolver.Process"/> as the resolve
/// stage's full path calls it. One operation = one interrupt, round-robin over a preallocated array with varying
/// sources and destinations. 256 vCPUs; goal 0 bytes.
/// </summary>
[BenchmarkCategory("Apic", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class DeviceInterruptBenchmarks
{
    private const int Interrupts = 1024;
    private const int Vcpus = 256;

    private IcrResolver _resolver = null!;
    private DestinationSet _destinations = null!;
    private ExitRecord[] _records = null!;
    private int _reached;

    /// <summary>The input and its destinations.</summary>
    public enum Scenario
    {
        /// <summary>x2APIC ICR, physical unicast (the reference).</summary>
        IcrUnicast,
        /// <summary>MSI, physical unicast (8-bit destination plus address_hi).</summary>
        MsiUnicast,
        /// <summary>KVM_HC_SEND_IPI, one bit.</summary>
        PvIpiUnicast,
        /// <summary>x2APIC ICR, logical cluster, 4 members (the reference).</summary>
        IcrMulticast4,
        /// <summary>MSI, logical x2APIC cluster, 4 members.</summary>
        MsiMulticast4,
        /// <summary>KVM_HC_SEND_IPI, 4 bits.</summary>
        PvIpiMulticast4,
    }

    /// <summary>The scenario measured.</summary>
    [Params(Scenario.IcrUnicast, Scenario.MsiUnicast, Scenario.PvIpiUnicast, Scenario.IcrMulticast4, Scenario.MsiMulticast4, Scenario.PvIpiMulticast4)]
    public Scenario Case { get; set; }

    /// <summary>Builds the topology (x2APIC physical, or cluster for the multicasts) and the records.</summary>
    [GlobalSetup]
    public void Setup()
    {
        bool multicast = Case is Scenario.IcrMulticast4 or Scenario.MsiMulticast4 or Scenario.PvIpiMulticast4;
        _resolver = new IcrResolver(ApicTopology.Configure(Vcpus, multicast ? TopologyKind.X2ApicCluster : TopologyKind.X2ApicPhysical), deviceSources: 1);
        _destinations = new DestinationSet(Vcpus);
        var records = new List<ExitRecord>();
        for (int i = 0; i < Interrupts; i++)
        {
            ushort source = (ushort)(i % Vcpus);
            // Never APIC ID 255: an 8-bit MSI destination 0xFF is the broadcast. Multicasts: the first 4 of a cluster.
            uint target = (uint)((i * 7 + 1) % (Vcpus - 1)) & (multicast ? ~15u : ~0u);
            uint cluster = target >> 4;
            switch (Case)
            {
                case Scenario.IcrUnicast:
                    records.Add(ExitRecord.Create(source, ApicRegister.X2Icr, ((ulong)target << 32) | 0x40FD, target));
                    break;
                case Scenario.IcrMulticast4:
                    records.Add(ExitRecord.Create(source, ApicRegister.X2Icr, ((ulong)((cluster << 16) | 0xF) << 32) | 0x48FC, 0));
                    break;
                case Scenario.MsiUnicast:
                    records.Add(Msi(0xFEE0_0000u | ((target & 0xFF) << 12), target & 0xFFFF_FF00, 0x40FD));
                    break;
                case Scenario.MsiMulticast4:
                    // 8-bit logical destinations reach cluster 0 only; clusters above through address_hi (KVM's x2APIC API).
                    records.Add(Msi(0xFEE0_0004u | (0xFu << 12), (cluster << 16) & 0xFFFF_FF00, 0x40FC));
                    break;
                default:
                    ulong bits = Case == Scenario.PvIpiUnicast ? 1ul : 0xFul;
                    records.Add(ExitRecord.Create(source, ApicRegister.PvSendIpiHigh, 0, 0xFD));
                    records.Add(ExitRecord.Create(source, ApicRegister.PvSendIpi, bits, target));
                    break;
            }
        }

        _records = [.. records];
    }

    /// <summary>Every record of the scenario through the resolver.</summary>
    [Benchmark(OperationsPerInvoke = Interrupts)]
    public int Resolve()
    {
        using var slowdown = BenchmarkSlowdown.Begin();
        IcrResolver resolver = _resolver;
        DestinationSet destinations = _destinations;
        ExitRecord[] records = _records;
        int reached = 0;
        for (int i = 0; i < records.Length; i++)
        {
            resolver.Process(records[i], destinations);
            reached += destinations.Count;
        }

        return _reached = reached;
    }

    /// <summary>Every interrupt reached its 1 or 4 destinations (checked after the run; guards against a broken setup).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        int expected = Interrupts * (Case is Scenario.IcrMulticast4 or Scenario.MsiMulticast4 or Scenario.PvIpiMulticast4 ? 4 : 1);
        int reached = Resolve();
        if (reached != expected)
        {
            throw new InvalidOperationException($"{Case}: reached {reached} destinations, expected {expected}.");
        }

        GC.KeepAlive(_reached);
    }

    private static ExitRecord Msi(uint address, uint addressHigh, uint data)
        => new((ushort)Vcpus, ApicRegister.Msi, MsiMessage.RecordValue(((ulong)addressHigh << 32) | address, data), addressHigh, 0, 0);
}
