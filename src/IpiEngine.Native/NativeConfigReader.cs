using IpiEngine.Apic;
using IpiEngine.Pipeline;
using IpiEngine.Transport;

namespace IpiEngine.Native;

/// <summary>Checks an <c>ipi_config_t</c> field by field and turns it into <see cref="EngineOptions"/>.</summary>
internal static unsafe class NativeConfigReader
{
    /// <summary>
    /// The options for <paramref name="config"/>, or a status saying what is wrong with it. Range checks that only
    /// the engine or the topology knows (e.g. 9 vCPUs in xAPIC flat) surface as <see cref="ArgumentException"/>s,
    /// which the boundary maps to <see cref="Status.BadConfig"/> as well.
    /// </summary>
    public static int TryRead(NativeConfig* config, out EngineOptions? options) => TryRead(config, null, out options);

    /// <summary>
    /// As above, for one node of a multi-host VM when <paramref name="node"/> is set: its placement, forwarder,
    /// local-targets mode and topology replicator (its transport) go into the options.
    /// </summary>
    public static int TryRead(NativeConfig* config, (NativeNodeSetup Setup, NodeTransport Transport)? node, out EngineOptions? options)
    {
        options = null;
        if (config->StructSize < NativeConfig.MinimumSize)
            return LastError.Set(Status.StructSize, $"ipi_config_t.struct_size is {config->StructSize}; it must be at least {NativeConfig.MinimumSize}");
        uint vcpus = config->VcpuCount;
        if (vcpus == 0 || vcpus > AbiValues.MaxVcpus)
            return Bad($"vcpu_count is {vcpus}; it must be 1 to {AbiValues.MaxVcpus}");
        if ((config->Flags & ~AbiValues.KnownFlags) != 0)
            return Bad($"flags 0x{config->Flags:x} has bits this library does not know (0x{config->Flags & ~AbiValues.KnownFlags:x})");
        var defaults = new EngineOptions();
        if (!TryThreading(config->ThreadingMode, out ThreadingMode threading))
            return Bad($"threading_mode {config->ThreadingMode} is not an IPI_THREADING_* value");
        if (!TryWait(config->WaitStrategy, defaults.WaitStrategy, out WaitStrategyKind wait))
            return Bad($"wait_strategy {config->WaitStrategy} is not an IPI_WAIT_* value");
        if (!TryBackPressure(config->BackPressure, out BackPressure backPressure))
            return Bad($"back_pressure {config->BackPressure} is not an IPI_BACK_PRESSURE_* value");
        int ring = (int)Math.Min(config->RingCapacity, int.MaxValue);
        if (ring != 0 && (ring < 2 || ring > EngineOptions.MaxRingCapacity || !int.IsPow2(ring)))
            return Bad($"ring_capacity {config->RingCapacity} is not a power of two from 2 to {EngineOptions.MaxRingCapacity} (or 0 for the default)");

        if (config->StructSize >= NativeConfig.ApicIdCountSize)
        {
            // Checked before apic_ids is read: a wrong count is refused, not read past the caller's array; and IDs given
            // with a configured topology (which has its own) are refused rather than silently ignored.
            if (config->ApicIds is not null && config->Topology != AbiValues.TopologyReset)
                return Bad($"apic_ids is set but topology {config->Topology} is not IPI_TOPOLOGY_RESET, which alone takes initial APIC IDs");
            uint expectedIds = config->ApicIds is not null ? vcpus : 0;
            if (config->ApicIdCount != expectedIds)
                return Bad($"apic_id_count is {config->ApicIdCount}; it must be {expectedIds} (vcpu_count when apic_ids is set, else 0)");
            if (config->Reserved != 0)
                return Bad($"ipi_config_t.reserved is {config->Reserved}; it must be 0");
        }
        int pinStatus = TryPipelineCpus(config, out int[]? pipelineCpus);
        if (pinStatus != Status.Ok)
            return pinStatus;
        ApicTopology? topology = Topology(config, (int)vcpus);
        if (topology is null)
            return Bad($"topology {config->Topology} is not an IPI_TOPOLOGY_* value");

        options = new EngineOptions
        {
            Name = node is { } named ? $"native-node{named.Setup.Transport.NodeId}" : "native",
            Placement = node?.Setup.Placement,
            Forwarder = node?.Transport,
            LocalTargets = node?.Setup.LocalTargets ?? LocalTargets.Engine,
            Replicator = node?.Transport.Replication, // topology writes go to every node, in the VM's one order
            VcpuCount = (int)vcpus,
            Topology = topology,
            RingCapacity = ring != 0 ? ring : defaults.RingCapacity,
            ThreadingMode = threading,
            WaitStrategy = wait,
            BackPressure = backPressure,
            StampPostTime = (config->Flags & AbiValues.FlagNoPostTimestamp) != 0 ? false : null, // null: when the log can show it
            AssistIdlePipeline = (config->Flags & AbiValues.FlagNoAssist) == 0,
            // The host's callback, called on the deliver thread once per destination per batch; same ABI as
            // void (*)(void *, uint32_t) on LP64 (pointer in the first register, 32-bit integer in the second).
            NativeNotifier = (delegate* unmanaged<nint, int, void>)config->Kick,
            NativeNotifierContext = config->KickContext,
            PipelineCpus = pipelineCpus,
        };
        return Status.Ok;
    }

    /// <summary>The most pipeline threads a mode runs (per-stage: gather, resolve, deliver).</summary>
    private const uint MaxPipelineThreads = 3;

    private static int Bad(string message) => LastError.Set(Status.BadConfig, message);

    /// <summary>
    /// <c>pipeline_cpus</c> as the engine takes it, or null (the OS places the threads) for a caller built before ABI 1.6
    /// or one that left it NULL. The count is checked against the pointer before the array is read, and bounded by the
    /// most threads a mode runs; which counts and CPUs fit the mode and this thread is the engine's own check.
    /// </summary>
    private static int TryPipelineCpus(NativeConfig* config, out int[]? cpus)
    {
        cpus = null;
        if (config->StructSize < NativeConfig.PipelineCpusSize)
            return Status.Ok;
        if (config->Reserved2 != 0)
            return Bad($"ipi_config_t.reserved2 is {config->Reserved2}; it must be 0");
        uint count = config->PipelineCpuCount;
        if (config->PipelineCpus is null)
            return count == 0 ? Status.Ok : Bad($"pipeline_cpu_count is {count} but pipeline_cpus is NULL; give the array or set the count to 0");
        if (count == 0 || count > MaxPipelineThreads)
            return Bad($"pipeline_cpu_count is {count}; with pipeline_cpus set it must be 1 (one CPU for all) or the mode's thread count (fused 1, per-stage {MaxPipelineThreads})");
        var read = new int[count];
        for (int i = 0; i < read.Length; i++)
        {
            uint cpu = config->PipelineCpus[i];
            if (cpu > int.MaxValue)
                return Bad($"pipeline_cpus[{i}] is {cpu}; it is not a logical CPU number");
            read[i] = (int)cpu;
        }
        cpus = read;
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
        mode = value switch
        {
            AbiValues.ThreadingPerStage => ThreadingMode.PerStage,
            AbiValues.ThreadingInline => ThreadingMode.Inline,
            _ => ThreadingMode.Fused,
        };
        return value is AbiValues.ThreadingFused or AbiValues.ThreadingPerStage or AbiValues.ThreadingInline;
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
