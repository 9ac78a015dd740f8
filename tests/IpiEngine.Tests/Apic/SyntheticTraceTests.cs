using IpiEngine.Apic;
using IpiEngine.Pipeline;
using IpiEngine.Trace;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// The synthetic traces of tests/IpiEngine.Tests/Vectors/synthetic (written by generate.py there: 8-64 vCPUs, sparse and
/// above-255 APIC IDs, several x2APIC clusters, xAPIC cluster mode, NMIs, shorthands, lowest priority, offline/online,
/// kexec) replay to the deliveries of the generator's own rule implementation, the resolver's precomputed maps agree
/// with the brute-force oracle on every write, and the concurrent engine (one thread per vCPU) replays them alike.
/// </summary>
public class SyntheticTraceTests
{
    private static readonly string Directory = RepoFiles.Path("tests", "IpiEngine.Tests", "Vectors", "synthetic");

    public static TheoryData<string> TraceNames()
        => new(System.IO.Directory.GetFiles(Directory, "*.vcpus.csv").Select(p => Path.GetFileName(p)[..^".vcpus.csv".Length]).Order());

    [Theory]
    [MemberData(nameof(TraceNames))]
    public void Trace_replays_to_the_generators_deliveries(string name)
    {
        (uint[] ids, ExitRecord[] exits) = Load(name);
        var expected = TraceReader.ReadDeliveries(Path.Combine(Directory, name + ".deliveries.csv"));

        ReplayResult result = SequentialReplay.Run(ids, exits);

        var comparison = DeliveryComparison.Compare(expected, result.Rows);
        Assert.True(comparison.Identical, string.Join('\n', comparison.FirstDifferences));
        Assert.Equal(0, result.Counters.Rejected);
    }

    [Theory]
    [MemberData(nameof(TraceNames))]
    public void Resolver_equals_the_brute_force_oracle_on_every_write(string name)
    {
        (uint[] ids, ExitRecord[] exits) = Load(name);
        var resolver = new IcrResolver(ApicTopology.Reset(ids));
        var oracle = new BruteForceOracle(ids);
        var actual = new DestinationSet(ids.Length);
        var expected = new DestinationSet(ids.Length);
        for (int i = 0; i < exits.Length; i++)
        {
            ExitOutcome outcome = resolver.Process(exits[i], actual);
            ExitKind expectedKind = oracle.Apply(exits[i], expected);
            Assert.True(expectedKind == outcome.Kind && actual.Vcpus.SequenceEqual(expected.Vcpus),
                $"seq {i}: {outcome} [{string.Join(',', actual.Vcpus.ToArray())}] vs {expectedKind} [{string.Join(',', expected.Vcpus.ToArray())}]");
        }
    }

    [Theory]
    [MemberData(nameof(TraceNames))]
    public void Concurrent_engine_replay_equals_the_sequential_one(string name)
    {
        (uint[] ids, ExitRecord[] exits) = Load(name);
        ReplayResult reference = SequentialReplay.Run(ids, exits);

        ConcurrentReplayResult result = ConcurrentTraceReplay.Run(ids, exits, ThreadingMode.Fused, WaitStrategyKind.Hybrid, ringCapacity: 256);

        Assert.Null(result.FirstDifference(reference));
        Assert.True(result.Counters.ConservationHolds, result.Counters.ToString());
        Assert.Equal(reference.Counters.Destinations, result.Counters.DestinationsResolved);
    }

    [Fact]
    public void The_traces_together_exercise_what_the_recorded_traces_do_not()
    {
        var modes = new HashSet<string>(StringComparer.Ordinal);
        bool x2apicMulticluster = false, xapicCluster = false, selfIpiMsr = false, idAbove255 = false, nmiAllButSelf = false;
        bool initToSoftwareDisabled = false, manyVcpus = false;
        foreach (string name in TraceNames())
        {
            (uint[] ids, ExitRecord[] exits) = Load(name);
            var byRow = TraceReader.ReadDeliveries(Path.Combine(Directory, name + ".deliveries.csv")).ToDictionary(r => r.Seq);
            var model = ApicTopology.Reset(ids);
            manyVcpus |= ids.Length >= 32;
            idAbove255 |= ids.Any(id => id > 255);
            var x2Clusters = new HashSet<uint>();
            for (int seq = 0; seq < exits.Length; seq++)
            {
                ExitRecord record = exits[seq];
                if (ApicTopology.IsTopologyRegister(record.Register))
                {
                    model.Apply(record.SourceVcpu, record.Register, record.Value);
                    xapicCluster |= record.Register == ApicRegister.Dfr && (uint)record.Value >> 28 == ApicState.DfrCluster;
                    continue;
                }

                selfIpiMsr |= record.Register == ApicRegister.X2SelfIpi;
                if (!byRow.TryGetValue(seq, out DeliveryRow? row))
                {
                    continue;
                }

                modes.Add(row.Mode);
                var command = IcrCommand.FromX2Apic(record.Value);
                if (record.Register == ApicRegister.X2Icr && command.Logical && command.Destination != uint.MaxValue)
                {
                    x2Clusters.Add(command.Destination >> 16);
                }

                nmiAllButSelf |= row.Mode == "NMI" && command.Shorthand == DestinationShorthand.AllExcludingSelf;
                initToSoftwareDisabled |= row.Mode == "INIT" && row.Destinations.ToArray().Any(v => !model.Apics[v].SoftwareEnabled);
            }

            x2apicMulticluster |= x2Clusters.Count > 1;
        }

        Assert.Superset(new HashSet<string>(["FIXED", "LOWPRI", "NMI", "INIT", "INIT_DEASSERT", "SIPI"]), modes);
        Assert.True(x2apicMulticluster && xapicCluster && selfIpiMsr && idAbove255 && nmiAllButSelf && initToSoftwareDisabled && manyVcpus,
            $"multicluster {x2apicMulticluster}, xAPIC cluster {xapicCluster}, SELF IPI {selfIpiMsr}, ID>255 {idAbove255}, "
            + $"NMI all-but-self {nmiAllButSelf}, INIT to software-disabled {initToSoftwareDisabled}, 32+ vCPUs {manyVcpus}");
    }

    private static (uint[] Ids, ExitRecord[] Exits) Load(string name)
    {
        uint[] ids = TraceReader.ReadVcpus(Path.Combine(Directory, name + ".vcpus.csv"));
        return (ids, TraceReader.ReadExits(Path.Combine(Directory, name + ".exits.csv"), ids.Length));
    }
}
