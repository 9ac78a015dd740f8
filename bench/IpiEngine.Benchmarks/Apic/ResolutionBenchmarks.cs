using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Apic;
using IpiEngine.Benchmarks.Infrastructure;

namespace IpiEngine.Benchmarks.Apic;

/// <summary>
/// Resolution cost per firing write: <see cref="IcrResolver.Process"/> through the precomputed
/// <see cref="DestinationMap"/> against the brute-force <see cref="ApicMatcher"/> (baseline: decode the same write, check
/// every APIC). One operation = one firing write, taken round-robin from a preallocated array of records whose sources
/// and destinations vary, so neither side can keep one answer in a register. Goal: unicast at most 5 ns, 0 bytes.
/// Under the slowdown switch an invocation resolves that fraction more writes than it reports
/// (<see cref="BenchmarkSlowdown.ExtraOperations"/>): the same loop, longer.
/// </summary>
[BenchmarkCategory("Apic", SuiteCategories.ZeroAlloc)]
[MemoryDiagnoser]
public class ResolutionBenchmarks
{
    private const int Writes = 1024; // a power of two: the loops index the records by n & (Writes - 1)

    private IcrResolver _resolver = null!;
    private DestinationSet _destinations = null!;
    private ExitRecord[] _records = null!;
    private uint[] _latchedHigh = null!;
    private int _reached;
    private int _operations;

    /// <summary>The kind of firing write.</summary>
    public enum Scenario
    {
        /// <summary>xAPIC physical unicast, 64 vCPUs.</summary>
        XApicPhysicalUnicast,
        /// <summary>x2APIC physical unicast, 256 vCPUs.</summary>
        X2ApicPhysicalUnicast,
        /// <summary>xAPIC logical flat multicast to 3 of 8 vCPUs.</summary>
        XApicFlatMulticast,
        /// <summary>x2APIC logical cluster multicast to 4 members of a cluster, 256 vCPUs.</summary>
        X2ApicClusterMulticast,
        /// <summary>x2APIC physical broadcast (0xFFFFFFFF), 256 vCPUs.</summary>
        X2ApicBroadcast,
        /// <summary>xAPIC all-excluding-self shorthand, 64 vCPUs.</summary>
        XApicAllExcludingSelf,
    }

    /// <summary>The scenario measured.</summary>
    [Params(Scenario.XApicPhysicalUnicast, Scenario.X2ApicPhysicalUnicast, Scenario.XApicFlatMulticast,
        Scenario.X2ApicClusterMulticast, Scenario.X2ApicBroadcast, Scenario.XApicAllExcludingSelf)]
    public Scenario Case { get; set; }

    /// <summary>Builds the topology, latches every sender's destination, and prepares the writes.</summary>
    [GlobalSetup]
    public void Setup()
    {
        (TopologyKind kind, int vcpus) = Case switch
        {
            Scenario.XApicPhysicalUnicast or Scenario.XApicAllExcludingSelf => (TopologyKind.XApicPhysical, 64),
            Scenario.XApicFlatMulticast => (TopologyKind.XApicFlat, 8),
            Scenario.X2ApicClusterMulticast => (TopologyKind.X2ApicCluster, 256),
            _ => (TopologyKind.X2ApicPhysical, 256),
        };
        _resolver = new IcrResolver(ApicTopology.Configure(vcpus, kind));
        _destinations = new DestinationSet(vcpus);
        _latchedHigh = new uint[vcpus];
        _records = new ExitRecord[Writes];
        _operations = Writes + BenchmarkSlowdown.ExtraOperations(Writes);
        for (int source = 0; source < vcpus; source++)
        {
            // xAPIC senders latch their destination once: physical ID source+1, or flat MDA of three neighbours.
            uint destination = Case == Scenario.XApicFlatMulticast
                ? (uint)((0b111 << ((source + 1) % 6)) & 0xFF)
                : (uint)((source + 1) % vcpus);
            _latchedHigh[source] = destination << 24;
            _resolver.Process(ExitRecord.Create((ushort)source, ApicRegister.IcrHigh, _latchedHigh[source], destination), _destinations);
        }

        for (int i = 0; i < Writes; i++)
        {
            int source = i % vcpus;
            int target = (i * 7 + 1) % vcpus;
            (ushort register, ulong value) = Case switch
            {
                Scenario.XApicPhysicalUnicast => (ApicRegister.IcrLow, 0x40FDul),
                Scenario.XApicFlatMulticast => (ApicRegister.IcrLow, 0x48FCul),
                Scenario.XApicAllExcludingSelf => (ApicRegister.IcrLow, 0xC40FCul),
                Scenario.X2ApicPhysicalUnicast => (ApicRegister.X2Icr, ((ulong)target << 32) | 0x40FD),
                Scenario.X2ApicClusterMulticast => (ApicRegister.X2Icr, ((ulong)(target >> 4) << 48) | (0xFul << (32 + (i % 12))) | 0x48FC),
                _ => (ApicRegister.X2Icr, (0xFFFF_FFFFul << 32) | 0x40FD),
            };
            _records[i] = ExitRecord.Create((ushort)source, register, value, 0);
        }
    }

    /// <summary>Brute force: decode, then check every APIC against the SDM rules.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Writes)]
    public int BruteForceMatcher()
    {
        ReadOnlySpan<ApicState> apics = _resolver.Map.Apics;
        ExitRecord[] records = _records;
        int operations = _operations;
        int reached = 0;
        for (int n = 0; n < operations; n++)
        {
            ref readonly ExitRecord record = ref records[n & (Writes - 1)];
            IcrCommand command = record.Register == ApicRegister.X2Icr
                ? IcrCommand.FromX2Apic(record.Value)
                : IcrCommand.FromXApic((uint)record.Value, _latchedHigh[record.SourceVcpu]);
            ApicMatcher.Resolve(apics, record.SourceVcpu, command, _destinations);
            reached += _destinations.Count;
        }

        return _reached = reached;
    }

    /// <summary>The engine's path: latch lookup, decode, validate, resolve through the map.</summary>
    [Benchmark(OperationsPerInvoke = Writes)]
    public int DestinationMap()
    {
        IcrResolver resolver = _resolver;
        DestinationSet destinations = _destinations;
        ExitRecord[] records = _records;
        int operations = _operations;
        int reached = 0;
        for (int n = 0; n < operations; n++)
        {
            resolver.Process(records[n & (Writes - 1)], destinations);
            reached += destinations.Count;
        }

        return _reached = reached;
    }

    /// <summary>Both paths reached the same number of destinations (checked after the run; guards against a broken setup).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        int fast = DestinationMap();
        int slow = BruteForceMatcher();
        if (fast != slow || fast == 0)
        {
            throw new InvalidOperationException($"{Case}: the map reached {fast} destinations, the brute force {slow}.");
        }

        GC.KeepAlive(_reached);
    }
}
