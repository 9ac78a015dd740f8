using CsCheck;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// For the random topologies of <see cref="DestinationMapPropertyTests"/> (any mode mix, sparse, duplicate and huge IDs,
/// disabled APICs) and random MSIs and <c>KVM_HC_SEND_IPI</c> calls, the resolver does what a brute-force reading of the
/// sources does: the fields decoded here from the SDM / KVM layouts, each APIC checked one by one with
/// <see cref="ApicMatcher"/>, the rejections in the documented order.
/// </summary>
public class DeviceInterruptPropertyTests
{
    private const int InputsPerTopology = 64;

    [Fact]
    public void Msi_and_pv_ipi_resolution_equals_brute_force()
    {
        Gen.Select(Gen.Int[1, 300], Gen.Int[0, 6], Gen.Bool, Gen.Int)
            .Sample((count, kind, sparse, seed) => CheckScenario(count, kind, sparse, seed), iter: 100);
    }

    /// <summary>
    /// Mixed modes with an ID from 0xFF up: a PV IPI naming ID 255 is a broadcast for the xAPIC-mode APICs (as a physical
    /// x2APIC-format ICR to 255 is), and the same APICs are also named by their own IDs: looked up bit by bit, they
    /// would be added twice, past the destination set's capacity.
    /// </summary>
    [Fact]
    public void A_pv_ipi_naming_apics_twice_in_the_mixed_mode_state_lists_each_once()
    {
        ApicTopology topology = ApicTopology.Reset([250, 251, 252, 253, 300]);
        for (int v = 0; v < 5; v++)
        {
            topology.Apply(v, ApicRegister.Svr, 0x1FF);
        }

        topology.Apply(4, ApicRegister.ApicBase, 0xFEE0_0C00); // vCPU 4 alone in x2APIC mode
        var resolver = new IcrResolver(topology);
        var set = new DestinationSet(5);
        resolver.Process(new ExitRecord(0, ApicRegister.PvSendIpiHigh, 0, 0xFD, 0, 0), set);

        ExitOutcome outcome = resolver.Process(new ExitRecord(0, ApicRegister.PvSendIpi, 0b10_1111, 250, 0, 0), set);

        Assert.Equal(ExitKind.Fired, outcome.Kind);
        Assert.Equal([0, 1, 2, 3], set.Vcpus.ToArray());
    }

    private static void CheckScenario(int count, int kind, bool sparse, int seed)
    {
        var random = new Random(seed);
        ApicTopology topology = DestinationMapPropertyTests.BuildTopology(count, kind, sparse, random);
        var resolver = new IcrResolver(topology, deviceSources: 1);
        ApicState[] apics = resolver.Map.Apics.ToArray();
        int vcpus = apics.Length;
        var set = new DestinationSet(vcpus);
        for (int i = 0; i < InputsPerTopology; i++)
        {
            string what;
            ExitOutcome outcome;
            (RejectReason Reason, int[] Vcpus) expected;
            if (random.Next(2) == 0)
            {
                (ulong address, uint data) = RandomMsi(apics, random);
                what = $"MSI address 0x{address:x} data 0x{data:x}";
                outcome = resolver.Process(new ExitRecord((ushort)vcpus, ApicRegister.Msi, MsiMessage.RecordValue(address, data), (uint)(address >> 32), 0, 0), set);
                expected = BruteForceMsi(apics, address, data);
            }
            else
            {
                (ulong a0, ulong a1, uint a2, uint a3) = RandomPvIpi(apics, random);
                what = $"PV IPI a0 0x{a0:x} a1 0x{a1:x} a2 0x{a2:x} a3 0x{a3:x}";
                int source = random.Next(vcpus);
                resolver.Process(new ExitRecord((ushort)source, ApicRegister.PvSendIpiHigh, a1, a3, 0, 0), set);
                outcome = resolver.Process(new ExitRecord((ushort)source, ApicRegister.PvSendIpi, a0, a2, 0, 0), set);
                expected = BruteForcePvIpi(apics, a0, a1, a2, a3);
            }

            (RejectReason Reason, int[] Vcpus) actual = (outcome.Kind == ExitKind.Fired ? RejectReason.None : outcome.Reason, set.Vcpus.ToArray());
            if (actual.Reason != expected.Reason || !actual.Vcpus.SequenceEqual(expected.Vcpus))
            {
                Assert.Fail($"kind {kind}, {vcpus} vCPUs, {what}: engine {actual.Reason} [{string.Join(',', actual.Vcpus)}]"
                            + $" vs brute force {expected.Reason} [{string.Join(',', expected.Vcpus)}]");
            }
        }
    }

    private static (ulong Address, uint Data) RandomMsi(ApicState[] apics, Random random)
    {
        ApicState someone = apics[random.Next(apics.Length)];
        uint logical = (uint)random.Next(2);
        uint destination = random.Next(5) switch
        {
            0 => 0xFF,
            1 => logical == 1 ? (someone.X2Apic ? someone.X2ApicLdr : someone.LogicalId) : someone.CurrentId,
            2 => (uint)random.Next(256),
            3 => (uint)random.Next(1 << 15),
            _ => (uint)random.Next(),
        };
        // Bits 14:8 either in the extended destination ID (address 11:5) or in address_hi; bits 31:15 only in address_hi.
        bool extended = destination < 1 << 15 && random.Next(2) == 0;
        uint low = (random.Next(16) == 0 ? (uint)random.Next(0x1000) << 20 : 0xFEEu << 20) | (destination & 0xFF) << 12
                   | (extended ? ((destination >> 8) & 0x7F) << 5 : 0) | logical << 2 | (uint)random.Next(2) << 3;
        uint high = extended ? 0 : destination & 0xFFFF_FF00;
        uint data = (uint)random.Next(8) << 8 | (random.Next(8) == 0 ? (uint)random.Next(16) : (uint)random.Next(16, 256))
                    | (uint)random.Next(2) << 15 | (uint)random.Next(2) << 14;
        return ((ulong)high << 32 | low, data);
    }

    private static (RejectReason, int[]) BruteForceMsi(ApicState[] apics, ulong address, uint data)
    {
        // SDM 3A 11.11 and Linux's msi.h: address 31:20 = 0xFEE, 19:12 destination, 11:5 destination 14:8, 3 redirection
        // hint, 2 logical; address_hi 31:8 = destination 31:8. Data 7:0 vector, 10:8 delivery mode.
        uint low = (uint)address;
        uint mode = (data >> 8) & 7;
        uint vector = data & 0xFF;
        if (low >> 20 != 0xFEE)
        {
            return (RejectReason.NotAnMsiAddress, []);
        }

        if (mode is 3 or 6 or 7) // 7, ExtINT: KVM delivers nothing for it (docs/apic.md)
        {
            return (RejectReason.ReservedDeliveryMode, []);
        }

        if (mode <= 1 && vector < 16)
        {
            return (RejectReason.IllegalVector, []);
        }

        uint destination = (low >> 12 & 0xFF) | (low >> 5 & 0x7F) << 8 | (uint)(address >> 32) & 0xFFFF_FF00;
        bool broadcast = destination == 0xFF;
        bool logical = (low & 4) != 0;
        var reached = new List<int>();
        for (int v = 0; v < apics.Length; v++)
        {
            if (ApicMatcher.Accepts(apics[v], (DeliveryMode)mode)
                && (broadcast || ApicMatcher.MatchesDestination(apics[v], destination, logical)))
            {
                reached.Add(v);
            }
        }

        bool pickOne = mode == 1 || (low & 8) != 0;
        return (RejectReason.None, pickOne && reached.Count > 1 ? [reached[(int)(vector % reached.Count)]] : [.. reached]);
    }

    private static (ulong A0, ulong A1, uint A2, uint A3) RandomPvIpi(ApicState[] apics, Random random)
    {
        uint first = random.Next(3) switch
        {
            0 => 0,
            1 => apics[random.Next(apics.Length)].CurrentId & ~63u,
            _ => (uint)random.Next(300),
        };
        ulong Bits() => random.Next(3) switch
        {
            0 => 0,
            1 => 1ul << random.Next(64),
            _ => (ulong)random.NextInt64() & (ulong)random.NextInt64(),
        };
        ulong a0 = Bits();
        ulong a1 = random.Next(3) == 0 ? Bits() : 0;
        uint mode = random.Next(3) == 0 ? (uint)random.Next(8) : 0;
        uint icr = mode << 8 | (random.Next(10) == 0 ? (uint)random.Next(16) : (uint)random.Next(16, 256)) | (uint)random.Next(4) << 14;
        if (random.Next(12) == 0)
        {
            icr |= random.Next(2) == 0 ? 1u << 11 : (uint)random.Next(1, 4) << 18;
        }

        return (a0, a1, first, icr);
    }

    private static (RejectReason, int[]) BruteForcePvIpi(ApicState[] apics, ulong a0, ulong a1, uint a2, uint a3)
    {
        uint mode = (a3 >> 8) & 7;
        if ((a3 & (1u << 11 | 3u << 18)) != 0)
        {
            return (RejectReason.InvalidHypercall, []);
        }

        if (mode is 3 or 7)
        {
            return (RejectReason.ReservedDeliveryMode, []);
        }

        if (mode <= 1 && (a3 & 0xFF) < 16)
        {
            return (RejectReason.IllegalVector, []);
        }

        var ids = new List<ulong>();
        for (int bit = 0; bit < 128; bit++)
        {
            if (((bit < 64 ? a0 >> bit : a1 >> (bit - 64)) & 1) != 0)
            {
                ids.Add((ulong)a2 + (ulong)bit);
            }
        }

        ulong maxId = apics.Max(a => Math.Max(a.InitialId, a.XApicId));
        if (ids.Any(id => id > maxId))
        {
            return (RejectReason.DestinationBeyondVm, []);
        }

        if ((a3 & 0xC700) == 0x8500)
        {
            return (RejectReason.None, []); // INIT level de-assert reaches nobody
        }

        var reached = new List<int>();
        for (int v = 0; v < apics.Length; v++)
        {
            // Every named APIC, no lowest-priority arbitration (KVM __pv_send_ipi).
            if (ApicMatcher.Accepts(apics[v], (DeliveryMode)mode) && ids.Any(id => ApicMatcher.MatchesDestination(apics[v], (uint)id, logical: false)))
            {
                reached.Add(v);
            }
        }

        return (RejectReason.None, [.. reached]);
    }
}
