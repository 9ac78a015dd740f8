using IpiEngine.Apic;

namespace IpiEngine.Workload;

/// <summary>
/// Draws a seeded, Linux-like IPI workload for a topology: each vCPU gets its own random stream (seed and vCPU
/// index), so the offered sequence of every vCPU is the same from run to run whatever the thread timing.
/// </summary>
internal static class WorkloadGenerator
{
    // Linux's vectors (arch/x86/include/asm/irq_vectors.h) and the start-up page the bundled traces use.
    private const uint CallFunctionVector = 0xFC;
    private const uint CallFunctionSingleVector = 0xFB;
    private const uint RescheduleVector = 0xFD;
    private const uint StartUpPage = 0x99;

    // ICR low encodings (SDM Vol. 3A "Interrupt Command Register"): Linux's wakeup_secondary_cpu_via_init sends
    // INIT level-assert, INIT level de-assert, then SIPI twice (arch/x86/kernel/smpboot.c).
    private const uint InitAssert = 0xC500;   // trigger level | level assert | delivery mode INIT
    private const uint InitDeassert = 0x8500; // trigger level | delivery mode INIT
    private const uint StartUp = 0x600 | StartUpPage;
    private const uint AllExcludingSelf = 0b11u << 18;

    /// <summary>Largest multicast set a CALL_FUNCTION draws (besides the sender).</summary>
    public const int MaxCallFunctionSet = 8;

    /// <summary>vCPUs that share an address space, the set a TLB shootdown reaches.</summary>
    public const int TlbGroupSize = 4;

    /// <summary>Tag bit of the bring-up's records (script records carry <c>vcpu &lt;&lt; 32 | IPI index</c>).</summary>
    public const ulong BringUpTag = 1UL << 63;

    /// <summary>The vCPU every <see cref="IpiKind.Storm"/> IPI goes to (vCPU 0 itself sends to vCPU 1).</summary>
    public const int StormTarget = 0;

    /// <summary>
    /// Generates the bring-up and, for each vCPU, a script of at least <paramref name="ipisPerVcpu"/> firing writes
    /// (a multicast in a physical mode may add a few more); with device kinds in the mix, also the scripts of
    /// <paramref name="devices"/> device threads (<paramref name="ipisPerDevice"/> interrupts each) and vCPU 0's
    /// IOAPIC programming at the end of the bring-up.
    /// </summary>
    public static WorkloadScript Generate(VcpuAddressBook addresses, WorkloadMix mix, int seed, int ipisPerVcpu, int devices = 0, int ipisPerDevice = 0)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ipisPerVcpu);

        var bringUp = new List<ExitRecord>();
        for (var ap = 1; ap < addresses.VcpuCount; ap++)
        {
            var tag = BringUpTag | (ulong)ap << 2;
            addresses.AppendPhysical(bringUp, 0, InitAssert, ap, tag);
            addresses.AppendPhysical(bringUp, 0, InitDeassert, ap, tag | 1);
            addresses.AppendPhysical(bringUp, 0, StartUp, ap, tag | 2);
            addresses.AppendPhysical(bringUp, 0, StartUp, ap, tag | 3);
        }

        var scripts = new VcpuScript[addresses.VcpuCount];
        for (var v = 0; v < scripts.Length; v++)
        {
            scripts[v] = GenerateVcpu(addresses, mix, seed, v, ipisPerVcpu);
        }

        DeviceWorkload? deviceWorkload = null;
        if (mix.HasDevices && devices > 0)
        {
            deviceWorkload = DeviceWorkload.Generate(addresses, mix, seed, devices, Math.Max(1, ipisPerDevice));
            bringUp.AddRange(deviceWorkload.EntryWrites);
        }

        return new WorkloadScript(addresses, mix, seed, [.. bringUp], 4 * (addresses.VcpuCount - 1), scripts) { Devices = deviceWorkload };
    }

    /// <summary>
    /// The vCPUs each IPI of vCPU <paramref name="v"/>'s script is meant to reach, by tag (the same draws as
    /// <see cref="Generate"/>): what tests check the resolved writes against.
    /// </summary>
    internal static Dictionary<ulong, int[]> IntendedDestinations(VcpuAddressBook addresses, WorkloadMix mix, int seed, int v, int ipisPerVcpu)
    {
        var intents = new Dictionary<ulong, int[]>();
        GenerateVcpu(addresses, mix, seed, v, ipisPerVcpu, intents);
        return intents;
    }

    private static VcpuScript GenerateVcpu(VcpuAddressBook addresses, WorkloadMix mix, int seed, int v, int ipis, Dictionary<ulong, int[]>? intents = null)
    {
#pragma warning disable CA5394 // A reproducible workload wants a seeded PRNG, not a cryptographic one.
        var random = new Random(unchecked(seed * 1_000_003 + v));
        var records = new List<ExitRecord>(ipis * 2);
        var prefix = new List<int>(ipis * 2 + 1) { 0 };
        var destinations = new int[addresses.VcpuCount];
        var fired = 0;
        while (fired < ipis)
        {
            var tag = (ulong)v << 32 | (uint)fired;
            var kind = mix.PickVcpuKind(random.Next(mix.VcpuWeight));
            var before = records.Count;
            switch (kind)
            {
                case IpiKind.CallFunctionSingle:
                case IpiKind.Reschedule:
                    destinations[0] = OtherThan(v, addresses.VcpuCount, random);
                    fired += Send(addresses, records, v, kind == IpiKind.Reschedule ? RescheduleVector : CallFunctionSingleVector, destinations.AsSpan(0, 1), tag, intents);
                    break;
                case IpiKind.CallFunction:
                    fired += Send(addresses, records, v, CallFunctionVector, RandomSet(v, addresses.VcpuCount, random, destinations), tag, intents);
                    break;
                case IpiKind.TlbShootdown:
                    fired += Send(addresses, records, v, CallFunctionVector, TlbGroup(v, addresses.VcpuCount, random, destinations), tag, intents);
                    break;
                case IpiKind.PvIpi:
                    var set = RandomSet(v, addresses.VcpuCount, random, destinations);
                    intents?.Add(tag, set.ToArray());
                    fired += addresses.AppendPvIpi(records, v, CallFunctionVector, set, tag);
                    break;
                case IpiKind.Broadcast:
                    addresses.AppendShorthand(records, v, AllExcludingSelf | CallFunctionVector, tag);
                    intents?.Add(tag, [.. Enumerable.Range(0, addresses.VcpuCount).Where(d => d != v)]);
                    fired++;
                    break;
                default:
                    destinations[0] = v == StormTarget ? (StormTarget + 1) % addresses.VcpuCount : StormTarget;
                    fired += Send(addresses, records, v, RescheduleVector, destinations.AsSpan(0, 1), tag, intents);
                    break;
            }

            for (var i = before; i < records.Count; i++)
            {
                prefix.Add(prefix[^1] + (ApicRegister.FiresIpi(records[i].Register) ? 1 : 0));
            }
        }
#pragma warning restore CA5394

        return new VcpuScript(v, [.. records], [.. prefix]);
    }

    /// <summary>Appends the writes that send one IPI to <paramref name="to"/> (noting the set in <paramref name="intents"/>); returns how many fire.</summary>
    private static int Send(VcpuAddressBook addresses, List<ExitRecord> records, int v, uint vector, ReadOnlySpan<int> to, ulong tag, Dictionary<ulong, int[]>? intents)
    {
        intents?.Add(tag, to.ToArray());
        return addresses.AppendSend(records, v, vector, to, tag);
    }


    private static int OtherThan(int v, int count, Random random)
    {
        if (count == 1)
        {
            return v;
        }

#pragma warning disable CA5394 // Seeded on purpose (see GenerateVcpu).
        var other = random.Next(count - 1);
#pragma warning restore CA5394
        return other >= v ? other + 1 : other;
    }

    private static ReadOnlySpan<int> RandomSet(int v, int count, Random random, int[] scratch)
    {
        var others = count - 1;
        if (others < 2)
        {
            scratch[0] = OtherThan(v, count, random);
            return scratch.AsSpan(0, 1);
        }

        // Partial Fisher-Yates over the other vCPUs, then ascending like a cpumask walk.
        for (var i = 0; i < others; i++)
        {
            scratch[i] = i >= v ? i + 1 : i;
        }

#pragma warning disable CA5394 // Seeded on purpose (see GenerateVcpu).
        var size = random.Next(2, Math.Min(MaxCallFunctionSet, others) + 1);
        for (var i = 0; i < size; i++)
        {
            var j = random.Next(i, others);
            (scratch[i], scratch[j]) = (scratch[j], scratch[i]);
        }
#pragma warning restore CA5394

        Array.Sort(scratch, 0, size);
        return scratch.AsSpan(0, size);
    }

    private static ReadOnlySpan<int> TlbGroup(int v, int count, Random random, int[] scratch)
    {
        var first = v / TlbGroupSize * TlbGroupSize;
        var size = 0;
        for (var d = first; d < Math.Min(first + TlbGroupSize, count); d++)
        {
            if (d != v)
            {
                scratch[size++] = d;
            }
        }

        if (size == 0)
        {
            scratch[size++] = OtherThan(v, count, random);
        }

        return scratch.AsSpan(0, size);
    }
}
