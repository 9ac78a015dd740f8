using CsCheck;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// For random topologies (xAPIC flat / cluster / physical, x2APIC physical / cluster, sparse IDs, disabled APICs,
/// shuffled x2APIC IDs, arbitrary mixed states, up to 300 vCPUs) and random valid ICR writes, the precomputed map resolves exactly as the
/// brute-force matcher does.
/// </summary>
public class DestinationMapPropertyTests
{
    private const int CommandsPerTopology = 96;

    [Fact]
    public void Map_resolution_equals_brute_force_matching()
    {
        Gen.Select(Gen.Int[1, 300], Gen.Int[0, 6], Gen.Bool, Gen.Int)
            .Sample((count, kind, sparse, seed) => CheckScenario(count, kind, sparse, seed), iter: 120);
    }

    private static void CheckScenario(int count, int kind, bool sparse, int seed)
    {
        var random = new Random(seed);
        DestinationMap map = BuildTopology(count, kind, sparse, random).BuildMap();
        var fast = new DestinationSet(map.VcpuCount);
        var slow = new DestinationSet(map.VcpuCount);
        for (int i = 0; i < CommandsPerTopology; i++)
        {
            int source = random.Next(map.VcpuCount);
            IcrCommand command = RandomCommand(map, random);
            map.Resolve(source, command, fast);
            ApicMatcher.Resolve(map.Apics, source, command, slow);
            if (!fast.Vcpus.SequenceEqual(slow.Vcpus))
            {
                Assert.Fail($"kind {kind}, {count} vCPUs, source {source}, {command}: map [{string.Join(',', fast.Vcpus.ToArray())}]"
                            + $" vs brute force [{string.Join(',', slow.Vcpus.ToArray())}]");
            }
        }
    }

    internal static ApicTopology BuildTopology(int count, int kind, bool sparse, Random random)
    {
        ApicTopology topology;
        if (kind < 5)
        {
            int limit = kind switch { 0 => 8, 1 => 60, 2 => sparse ? 128 : 255, _ => count };
            topology = ApicTopology.Configure(Math.Min(count, limit), (TopologyKind)kind, sparse);
        }
        else if (kind == 6)
        {
            // Every APIC in x2APIC mode with distinct IDs in shuffled order: ID order is not vCPU order.
            uint[] ids = Enumerable.Range(0, count).Select(i => (uint)(i * 7 + random.Next(7))).ToArray();
            random.Shuffle(ids);
            topology = ApicTopology.Reset(ids);
            for (int v = 0; v < count; v++)
            {
                topology.Apply(v, ApicRegister.ApicBase, 0xFEE0_0C00);
                topology.Apply(v, ApicRegister.X2Svr, 0x1FF);
            }
        }
        else
        {
            // Arbitrary states: sparse or duplicate IDs, any LDR/DFR, modes mixed as during a switch to x2APIC.
            var ids = new uint[count];
            for (int v = 0; v < count; v++)
            {
                ids[v] = random.Next(4) == 0 ? (uint)random.Next(1 << 20) : (uint)random.Next(count * 2);
            }

            topology = ApicTopology.Reset(ids);
            for (int v = 0; v < count; v++)
            {
                topology.Apply(v, ApicRegister.Id, (ulong)random.Next(256) << 24);
                topology.Apply(v, ApicRegister.Ldr, (ulong)random.Next(256) << 24);
                topology.Apply(v, ApicRegister.Dfr, random.Next(3) switch { 0 => 0xFFFF_FFFFul, 1 => 0x0FFF_FFFFul, _ => 0x5FFF_FFFFul });
                topology.Apply(v, ApicRegister.Svr, 0x1FF);
                if (random.Next(2) == 0)
                {
                    topology.Apply(v, ApicRegister.ApicBase, 0xFEE0_0C00);
                }
            }
        }

        // Disable some APICs: software (SVR bit 8 clear) or globally (IA32_APIC_BASE bit 11 clear).
        for (int v = 0; v < topology.VcpuCount; v++)
        {
            switch (random.Next(10))
            {
                case 0:
                    topology.Apply(v, topology.IsX2Apic(v) ? ApicRegister.X2Svr : ApicRegister.Svr, 0xFF);
                    break;
                case 1:
                    topology.Apply(v, ApicRegister.ApicBase, 0xFEE0_0000);
                    break;
            }
        }

        return topology;
    }

    private static IcrCommand RandomCommand(DestinationMap map, Random random)
    {
        var mode = (DeliveryMode)random.Next(8);
        if (mode is DeliveryMode.Reserved3 or DeliveryMode.Reserved7)
        {
            mode = DeliveryMode.Fixed;
        }

        uint vector = (uint)random.Next(16, 256);
        uint shorthand = random.Next(4) == 0 ? (uint)random.Next(1, 4) : 0;
        if (mode == DeliveryMode.LowestPriority && shorthand is 1 or 2)
        {
            shorthand = 3;
        }

        bool logical = random.Next(2) == 0;
        uint level = random.Next(4) == 0 ? 0u : 1u << 14;
        uint trigger = random.Next(4) == 0 ? 1u << 15 : 0;
        uint low = vector | ((uint)mode << 8) | (logical ? 1u << 11 : 0) | level | trigger | (shorthand << 18);
        ApicState someone = map.Apics[random.Next(map.VcpuCount)];
        bool x2 = random.Next(2) == 0;
        uint destination = random.Next(6) switch
        {
            0 => x2 ? uint.MaxValue : 0xFF,
            1 => logical ? (x2 ? someone.X2ApicLdr | (uint)random.Next(1 << 16) : someone.LogicalId) : someone.CurrentId,
            2 => (uint)random.Next(256),
            3 => x2 ? (uint)random.Next() : (uint)random.Next(16) << 4 | (uint)random.Next(16),
            _ => logical ? (x2 ? someone.X2ApicLdr : someone.LogicalId) : someone.InitialId,
        };
        return x2 ? IcrCommand.FromX2Apic((ulong)destination << 32 | low) : IcrCommand.FromXApic(low, (destination & 0xFF) << 24);
    }
}
