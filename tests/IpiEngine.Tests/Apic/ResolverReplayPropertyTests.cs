using CsCheck;
using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>
/// Random traces of the bundled traces' form but larger (up to 128 vCPUs, sparse IDs, from the reset state or from
/// APICs an OS has enabled, topology writes interleaved with ICR2 latches and firing writes in both modes): <see cref="IcrResolver"/> gives, write by write, what a brute-force
/// oracle gives (its own latch table, the topology model, <see cref="ApicMatcher"/> over every APIC).
/// </summary>
public class ResolverReplayPropertyTests
{
    private const int WritesPerTrace = 400;

    [Fact]
    public void Resolver_equals_a_brute_force_oracle_on_random_traces()
    {
        Gen.Select(Gen.Int[1, 128], Gen.Bool, Gen.Int, Gen.Bool)
            .Sample((count, sparse, seed, enabled) => CheckTrace(count, sparse, seed, enabled), iter: 60);
    }

    [Fact]
    public void Fast_lane_gives_what_Process_gives_and_takes_the_plain_unicasts()
    {
        int taken = 0;
        int takenLogical = 0;
        Gen.Select(Gen.Int[1, 128], Gen.Bool, Gen.Int).Sample((count, sparse, seed) =>
        {
            (int all, int logical) = CheckFastLane(count, sparse, seed);
            Interlocked.Add(ref taken, all);
            Interlocked.Add(ref takenLogical, logical);
        }, iter: 60);
        // Each trace starts from APICs an OS has enabled (from the reset state, where every APIC is software-disabled,
        // the lane could take at most ~2.6% of the writes): the lane must take a real share of them, logical ones too.
        const int Writes = 60 * WritesPerTrace;
        Assert.True(taken > Writes / 10, $"the fast lane took only {taken} of {Writes} writes");
        Assert.True(takenLogical > taken / 10, $"the fast lane took only {takenLogical} logical writes of {taken}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ApicRegister.IcrLow)]
    [InlineData(ApicRegister.X2Icr)]
    [InlineData(ApicRegister.Invalid)]
    public void Fast_lane_declines_every_source_outside_the_vcpus_whatever_its_register(ushort register)
    {
        var resolver = new IcrResolver(ApicTopology.Configure(4, TopologyKind.X2ApicPhysical));
        foreach (int source in new[] { 4, 5, ushort.MaxValue })
        {
            // A device source's ring carries its own registers; none of them may reach the per-vCPU latch table.
            var record = new ExitRecord((ushort)source, register, (1UL << 32) | 0x40, 1, 0, 0);
            Assert.Equal(-1, resolver.TryResolveUnicast(record, out _));
        }
    }

    /// <summary>
    /// Two resolvers fed the same writes: one tries the fast lane first, the other only processes. Every write the fast
    /// lane takes must be one Process fires to exactly that vCPU with that destination field, and the latches must stay
    /// equal (checked by every later ICR low write). Returns how many writes the fast lane took, and how many logical.
    /// </summary>
    private static (int Taken, int Logical) CheckFastLane(int count, bool sparse, int seed)
    {
        var random = new Random(seed);
        uint[] ids = Enumerable.Range(0, count).Select(i => sparse ? (uint)(i * 5 + random.Next(5)) : (uint)i).ToArray();
        var fast = new IcrResolver(ApicTopology.Reset(ids));
        var full = new IcrResolver(ApicTopology.Reset(ids));
        var fastSet = new DestinationSet(count);
        var fullSet = new DestinationSet(count);
        var topology = ApicTopology.Reset(ids);
        foreach (ExitRecord setup in EnablingWrites(random, count))
        {
            topology.Apply(setup.SourceVcpu, setup.Register, setup.Value);
            Assert.Equal(full.Process(setup, fullSet), fast.Process(setup, fastSet));
        }
        int taken = 0;
        int logical = 0;
        for (int i = 0; i < WritesPerTrace; i++)
        {
            ExitRecord record = random.Next(2) == 0 ? RandomWrite(random, count, topology) : PlainUnicast(random, count, topology);
            if (ApicTopology.IsTopologyRegister(record.Register))
            {
                topology.Apply(record.SourceVcpu, record.Register, record.Value);
            }

            ExitOutcome expected = full.Process(record, fullSet);
            int target = fast.TryResolveUnicast(record, out uint destination);
            if (target >= 0)
            {
                taken++;
                logical += expected.Command.Logical ? 1 : 0;
                Assert.True(expected.Kind == ExitKind.Fired && fullSet.Vcpus.SequenceEqual([target])
                            && expected.Command.Destination == destination,
                    $"write {i} {record.Register:x3}={record.Value:x}: fast lane {target}/0x{destination:x}, Process {expected} [{string.Join(',', fullSet.Vcpus.ToArray())}]");
                continue;
            }

            ExitOutcome actual = fast.Process(record, fastSet);
            Assert.Equal(expected, actual);
            Assert.True(fastSet.Vcpus.SequenceEqual(fullSet.Vcpus), $"write {i}: destinations differ after the fast lane declined");
        }

        return (taken, logical);
    }

    private static void CheckTrace(int count, bool sparse, int seed, bool enabled)
    {
        var random = new Random(seed);
        uint[] ids = Enumerable.Range(0, count).Select(i => sparse ? (uint)(i * 5 + random.Next(5)) : (uint)i).ToArray();
        var resolver = new IcrResolver(ApicTopology.Reset(ids));
        var oracle = new BruteForceOracle(ids);
        var actual = new DestinationSet(count);
        var expected = new DestinationSet(count);
        ExitRecord[] setup = enabled ? EnablingWrites(random, count) : [];
        for (int i = 0; i < setup.Length + WritesPerTrace; i++)
        {
            ExitRecord record = i < setup.Length ? setup[i] : RandomWrite(random, count, oracle.Topology);
            ExitOutcome outcome = resolver.Process(record, actual);

            ExitKind expectedKind = oracle.Apply(record, expected);
            Assert.True(expectedKind == outcome.Kind, $"write {i} {record.Register:x3}={record.Value:x}: {outcome} vs {expectedKind}");
            Assert.True(actual.Vcpus.SequenceEqual(expected.Vcpus),
                $"write {i} from {record.SourceVcpu}, {outcome.Command}: [{string.Join(',', actual.Vcpus.ToArray())}] vs [{string.Join(',', expected.Vcpus.ToArray())}]");
        }
    }

    /// <summary>
    /// The writes an OS makes at boot, drawn for the whole trace: xAPIC flat (LDR one bit per vCPU), xAPIC cluster (LDR
    /// cluster and member) or x2APIC (enabled through IA32_APIC_BASE); then every APIC software-enabled (SVR bit 8).
    /// </summary>
    private static ExitRecord[] EnablingWrites(Random random, int count)
    {
        int mode = random.Next(3);
        var writes = new List<ExitRecord>();
        for (int v = 0; v < count; v++)
        {
            ushort vcpu = (ushort)v;
            if (mode == 2)
            {
                writes.Add(ExitRecord.Create(vcpu, ApicRegister.ApicBase, 0xFEE0_0C00ul, 0));
                writes.Add(ExitRecord.Create(vcpu, ApicRegister.X2Svr, 0x1FFul, 0));
                continue;
            }

            bool flat = mode == 0;
            uint ldr = flat ? 1u << (v % 8) : (uint)((v / 4 % 15) << 4 | 1 << (v % 4));
            writes.Add(ExitRecord.Create(vcpu, ApicRegister.Dfr, flat ? 0xFFFF_FFFFul : 0x0FFF_FFFFul, 0));
            writes.Add(ExitRecord.Create(vcpu, ApicRegister.Ldr, (ulong)ldr << 24, 0));
            writes.Add(ExitRecord.Create(vcpu, ApicRegister.Svr, 0x1FFul, 0));
        }

        return [.. writes];
    }

    /// <summary>
    /// The fast lane's shape from the source's mode: Fixed or lowest priority, no shorthand, physical or logical (x2APIC:
    /// a target's LDR, one member bit, or now and then a random cluster and member set; xAPIC: the latched MDA).
    /// </summary>
    private static ExitRecord PlainUnicast(Random random, int count, ApicTopology topology)
    {
        int source = random.Next(count);
        bool logical = random.Next(2) == 0;
        uint low = (uint)random.Next(0, 256) | (uint)random.Next(2) << 8 | (logical ? 1u << 11 : 0) | (uint)random.Next(2) << 14;
        if (!topology.IsX2Apic(source))
        {
            return ExitRecord.Create((ushort)source, ApicRegister.IcrLow, low, 0);
        }

        ApicState target = topology.Apics[random.Next(count)];
        uint destination = !logical ? target.CurrentId
            : random.Next(4) == 0 ? (uint)random.Next(0, 16) << 16 | (uint)random.Next(0, 0x10000)
            : target.X2ApicLdr;
        return ExitRecord.Create((ushort)source, ApicRegister.X2Icr, (ulong)destination << 32 | low, 0);
    }

    /// <summary>The ICR low bits an x2APIC write may not set (<see cref="IcrCommand.X2ApicReservedLowBits"/>), one at a time.</summary>
    private static readonly uint[] ReservedBits = [1u << 13, 1u << 16, 1u << 17, 1u << 20, 1u << 27, 1u << 31];

    private static ExitRecord RandomWrite(Random random, int count, ApicTopology topology)
    {
        int source = random.Next(count);
        int target = random.Next(count);
        uint low = (uint)random.Next(0, 256) | (uint)random.Next(8) << 8 | (uint)random.Next(2) << 11
                   | (uint)random.Next(2) << 14 | (uint)random.Next(2) << 15 | (random.Next(5) == 0 ? (uint)random.Next(4) << 18 : 0)
                   | (random.Next(16) == 0 ? ReservedBits[random.Next(ReservedBits.Length)] : 0); // xAPIC ignores it, x2APIC refuses
        uint id = topology.Apics[target].CurrentId;
        (ushort register, ulong value) = random.Next(20) switch
        {
            0 => (ApicRegister.Svr, random.Next(4) == 0 ? 0xFFul : 0x1FFul),
            1 => (ApicRegister.X2Svr, 0x1FFul),
            2 => (ApicRegister.Ldr, (ulong)(1u << random.Next(8)) << 24),
            3 => (ApicRegister.Dfr, random.Next(2) == 0 ? 0xFFFF_FFFFul : 0x0FFF_FFFFul),
            4 => (ApicRegister.Id, (ulong)random.Next(256) << 24),
            5 => (ApicRegister.ApicBase, random.Next(6) switch { 0 => 0xFEE0_0000ul, 1 => 0xFEE0_0800ul, _ => 0xFEE0_0C00ul }),
            6 => (ApicRegister.X2SelfIpi, (ulong)(uint)random.Next(256) | (random.Next(16) == 0 ? 0x100ul : 0ul)),
            < 11 => (ApicRegister.IcrHigh, (ulong)(random.Next(3) == 0 ? 0xFFu : id & 0xFF) << 24),
            < 15 => (ApicRegister.IcrLow, low),
            _ => (ApicRegister.X2Icr, (ulong)(random.Next(4) switch { 0 => uint.MaxValue, 1 => topology.Apics[target].X2ApicLdr, _ => id }) << 32 | low),
        };
        return ExitRecord.Create((ushort)source, register, value, 0);
    }
}
