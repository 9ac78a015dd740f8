using IpiEngine.Apic;
using IpiEngine.Pipeline;

namespace IpiEngine.Native;

/// <summary>Checks an <c>ipi_config_t</c> field by field and turns it into <see cref="EngineOptions"/>.</summary>
internal static unsafe class NativeConfigReader
{
    /// <summary>
    /// The options for <paramref name="config"/>, or a status saying what is wrong with it. Range checks that only
    /// the engine or the topology knows (e.g. 9 vCPUs in xAPIC flat) surface as <see cref="ArgumentException"/>s,
    /// which the boundary maps to <see cref="Status.BadConfig"/> as well.
    /// </summary>
    public static int TryRead(NativeConfig* config, out EngineOptions? options)
    {
        options = null;
        if (config->StructSize < NativeConfig.MinimumSize)
            return Status.StructSize;
        uint vcpus = config->VcpuCount;
        if (vcpus == 0 || vcpus > AbiValues.MaxVcpus || (config->Flags & ~AbiValues.KnownFlags) != 0)
            return Status.BadConfig;
        var defaults = new EngineOptions();
        if (!TryThreading(config->ThreadingMode, out ThreadingMode threading)
            || !TryWait(config->WaitStrategy, defaults.WaitStrategy, out WaitStrategyKind wait)
            || !TryBackPressure(config->BackPressure, out BackPressure backPressure))
            return Status.BadConfig;
        int ring = (int)Math.Min(config->RingCapacity, int.MaxValue);
        if (ring != 0 && (ring < 2 || !int.IsPow2(ring)))
            return Status.BadConfig;

        ApicTopology? topology = Topology(config, (int)vcpus);
        if (topology is null)
            return Status.BadConfig;

        options = new EngineOptions
        {
            Name = "native",
            VcpuCount = (int)vcpus,
            Topology = topology,
            RingCapacity = ring != 0 ? ring : defaults.RingCapacity,
            ThreadingMode = threading,
            WaitStrategy = wait,
            BackPressure = backPressure,
            StampPostTime = (config->Flags & AbiValues.FlagNoPostTimestamp) == 0,
            // The host's callback, called on the deliver thread once per destination per batch; same ABI as
            // void (*)(void *, uint32_t) on LP64 (pointer in the first register, 32-bit integer in the second).
            NativeNotifier = (delegate* unmanaged<nint, int, void>)config->Kick,
            NativeNotifierContext = config->KickContext,
        };
        return Status.Ok;
    }

    private static ApicTopology? Topology(NativeConfig* config, int vcpus)
    {
        bool sparse = (config->Flags & AbiValues.FlagSparseIds) != 0;
        switch (config->Topology)
        {
            case AbiValues.TopologyReset:
                if (config->ApicIds is not null)
                    return ApicTopology.Reset(new ReadOnlySpan<uint>(config->ApicIds, vcpus));
                Span<uint> dense = vcpus <= 1024 ? stackalloc uint[vcpus] : new uint[vcpus];
                for (int i = 0; i < dense.Length; i++)
                    dense[i] = (uint)i;
                return ApicTopology.Reset(dense);
            case AbiValues.TopologyXApicFlat: return ApicTopology.Configure(vcpus, TopologyKind.XApicFlat, sparse);
            case AbiValues.TopologyXApicCluster: return ApicTopology.Configure(vcpus, TopologyKind.XApicCluster, sparse);
            case AbiValues.TopologyXApicPhysical: return ApicTopology.Configure(vcpus, TopologyKind.XApicPhysical, sparse);
            case AbiValues.TopologyX2ApicPhysical: return ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical, sparse);
            case AbiValues.TopologyX2ApicCluster: return ApicTopology.Configure(vcpus, TopologyKind.X2ApicCluster, sparse);
            default: return null;
        }
    }

    private static bool TryThreading(uint value, out ThreadingMode mode)
    {
        mode = value == AbiValues.ThreadingPerStage ? ThreadingMode.PerStage : ThreadingMode.Fused;
        return value is AbiValues.ThreadingFused or AbiValues.ThreadingPerStage;
    }

    private static bool TryWait(uint value, WaitStrategyKind engineDefault, out WaitStrategyKind kind)
    {
        kind = engineDefault; // IPI_WAIT_DEFAULT: whatever the engine picks by default
        switch (value)
        {
            case AbiValues.WaitDefault: return true;
            case AbiValues.WaitBusySpin: kind = WaitStrategyKind.BusySpin; return true;
            case AbiValues.WaitYielding: kind = WaitStrategyKind.Yielding; return true;
            case AbiValues.WaitSleeping: kind = WaitStrategyKind.Sleeping; return true;
            case AbiValues.WaitBlocking: kind = WaitStrategyKind.Blocking; return true;
            default: return false;
        }
    }

    private static bool TryBackPressure(uint value, out BackPressure policy)
    {
        policy = value == AbiValues.BackPressureDrop ? BackPressure.Drop : BackPressure.Wait;
        return value is AbiValues.BackPressureWait or AbiValues.BackPressureDrop;
    }
}
