using System.Runtime.InteropServices;
using IpiEngine.Apic;
using IpiEngine.Native;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>The managed mirrors of the C structs and constants agree with <c>include/ipi_engine.h</c>, read at test time.</summary>
public class NativeLayoutTests
{
    /// <summary>C struct name to its managed mirror, and C field name to managed field name.</summary>
    private static readonly Dictionary<string, Type> s_mirrors = new()
    {
        ["ipi_config_t"] = typeof(NativeConfig),
        ["ipi_exit_t"] = typeof(NativeExit),
        ["ipi_pending_t"] = typeof(NativePending),
        ["ipi_counters_t"] = typeof(NativeCounters),
        ["ipi_node_config_t"] = typeof(NativeNodeConfig),
        ["ipi_peer_t"] = typeof(NativePeer),
        ["ipi_injection_t"] = typeof(IcrInjection),
        ["ipi_x2apic_injection_t"] = typeof(NativeX2ApicInjection),
        ["ipi_link_t"] = typeof(NativeLink),
        ["ipi_node_faults_t"] = typeof(NativeNodeFaults),
        ["ipi_pi_desc_t"] = typeof(IpiEngine.Delivery.PostedInterruptDescriptor),
    };

    /// <summary>Fields whose C name means something else in another struct: (struct, C field) to managed field name.</summary>
    private static readonly Dictionary<(string, string), string> s_fieldNamesByType = new()
    {
        [("ipi_pending_t", "flags")] = nameof(NativePending.Flags),
        [("ipi_node_config_t", "flags")] = nameof(NativeNodeConfig.Flags),
        [("ipi_node_config_t", "reserved")] = nameof(NativeNodeConfig.Reserved),
        [("ipi_config_t", "reserved")] = nameof(NativeConfig.Reserved),
        [("ipi_peer_t", "port")] = nameof(NativePeer.Port),
        [("ipi_peer_t", "host")] = nameof(NativePeer.Host),
        // IcrInjection is a positional record struct: its fields are the properties' backing fields.
        [("ipi_injection_t", "icr_low")] = "<IcrLow>k__BackingField",
        [("ipi_injection_t", "icr_high")] = "<IcrHigh>k__BackingField",
        [("ipi_injection_t", "dest_id")] = "<DestinationId>k__BackingField",
        [("ipi_x2apic_injection_t", "icr")] = nameof(NativeX2ApicInjection.Icr),
    };

    private static readonly Dictionary<string, string> s_fieldNames = new()
    {
        ["vcpu_count"] = nameof(NativeConfig.VcpuCount), ["topology"] = nameof(NativeConfig.Topology),
        ["flags"] = nameof(NativeConfig.Flags), ["ring_capacity"] = nameof(NativeConfig.RingCapacity),
        ["threading_mode"] = nameof(NativeConfig.ThreadingMode), ["wait_strategy"] = nameof(NativeConfig.WaitStrategy),
        ["back_pressure"] = nameof(NativeConfig.BackPressure), ["apic_ids"] = nameof(NativeConfig.ApicIds),
        ["kick"] = nameof(NativeConfig.Kick), ["kick_context"] = nameof(NativeConfig.KickContext), ["apic_id_count"] = nameof(NativeConfig.ApicIdCount),
        ["pipeline_cpus"] = nameof(NativeConfig.PipelineCpus), ["pipeline_cpu_count"] = nameof(NativeConfig.PipelineCpuCount),
        ["reserved2"] = nameof(NativeConfig.Reserved2),
        ["reg"] = nameof(NativeExit.Register), ["value"] = nameof(NativeExit.Value),
        ["dest_id"] = nameof(NativeExit.DestinationId), ["reserved"] = nameof(NativeExit.Reserved), ["tag"] = nameof(NativeExit.Tag),
        ["sipi_vector"] = nameof(NativePending.SipiVector),
        ["posted"] = nameof(NativeCounters.Posted), ["notifications"] = nameof(NativeCounters.Notifications),
        ["rejected_by_reason"] = nameof(NativeCounters.RejectedByReason),
        ["pir"] = nameof(IpiEngine.Delivery.PostedInterruptDescriptor.Pir0), ["control"] = nameof(IpiEngine.Delivery.PostedInterruptDescriptor.Control),
        ["events"] = nameof(IpiEngine.Delivery.PostedInterruptDescriptor.Events),
        ["remote_delivered"] = nameof(NativeCounters.RemoteDelivered), ["remote_rejected"] = nameof(NativeCounters.RemoteRejected),
        ["served_by_host"] = nameof(NativeCounters.ServedByHost), ["peer_unreachable"] = nameof(NativeCounters.PeerUnreachable),
        ["peer_topology_writes"] = nameof(NativeCounters.PeerTopologyWrites), ["undelivered"] = nameof(NativeCounters.Undelivered),
        ["node_id"] = nameof(NativeNodeConfig.NodeId), ["placement"] = nameof(NativeNodeConfig.Placement),
        ["peers"] = nameof(NativeNodeConfig.Peers), ["peer_count"] = nameof(NativeNodeConfig.PeerCount),
        ["key_length"] = nameof(NativeNodeConfig.KeyLength), ["key"] = nameof(NativeNodeConfig.Key),
        ["listen_host"] = nameof(NativeNodeConfig.ListenHost), ["listen_port"] = nameof(NativeNodeConfig.ListenPort),
        ["local_targets"] = nameof(NativeNodeConfig.LocalTargets), ["queue_records"] = nameof(NativeNodeConfig.QueueRecords),
        ["full_queue"] = nameof(NativeNodeConfig.FullQueue), ["topology_write_timeout_ms"] = nameof(NativeNodeConfig.TopologyWriteTimeoutMs),
        ["inject"] = nameof(NativeNodeConfig.Inject), ["inject_x2apic"] = nameof(NativeNodeConfig.InjectX2Apic),
        ["inject_context"] = nameof(NativeNodeConfig.InjectContext), ["placement_count"] = nameof(NativeNodeConfig.PlacementCount),
        ["forwarded"] = nameof(NativeLink.Forwarded), ["stalled_ns"] = nameof(NativeLink.StalledNanoseconds),
        ["flush_sends"] = nameof(NativeLink.FlushSends), ["back_pressured_ns"] = nameof(NativeLink.BackPressuredNanoseconds),
        ["link_faults"] = nameof(NativeNodeFaults.LinkFaults), ["topology_write_failures"] = nameof(NativeNodeFaults.TopologyWriteFailures),
        ["topology_write_failures_applied"] = nameof(NativeNodeFaults.TopologyWriteFailuresApplied),
        ["rejected_handshakes"] = nameof(NativeNodeFaults.RejectedHandshakes),
    };

    [Fact]
    public void Every_struct_the_header_sizes_has_a_mirror_of_that_size()
    {
        IReadOnlyDictionary<string, int> sizes = NativeHeader.AssertedSizes();
        Assert.Equal(s_mirrors.Keys.Order(), sizes.Keys.Order());
        foreach ((string c, int size) in sizes)
            Assert.True(Marshal.SizeOf(s_mirrors[c]) == size, $"{c}: header {size}, managed {Marshal.SizeOf(s_mirrors[c])}");
    }

    [Fact]
    public void Every_offset_the_header_asserts_matches_the_mirror()
    {
        IReadOnlyList<(string Type, string Field, int Offset)> offsets = NativeHeader.AssertedOffsets();
        Assert.True(offsets.Count >= 20, "the header should pin most fields");
        foreach ((string type, string field, int offset) in offsets)
        {
            string managed = s_fieldNamesByType.TryGetValue((type, field), out string? byType) ? byType : s_fieldNames[field];
            Assert.True((int)Marshal.OffsetOf(s_mirrors[type], managed) == offset, $"{type}.{field} at {offset}");
        }
    }

    [Fact]
    public void Every_field_of_the_exit_mirror_sits_where_the_header_says()
    {
        // Spot-check the record the hot path copies, field by field, independent of the parser.
        Assert.Equal(32, Marshal.SizeOf<NativeExit>());
        Assert.Equal(0, (int)Marshal.OffsetOf<NativeExit>(nameof(NativeExit.SourceVcpu)));
        Assert.Equal(24, (int)Marshal.OffsetOf<NativeExit>(nameof(NativeExit.Tag)));
    }

    [Fact]
    public void Status_codes_match_the_header()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        Assert.Equal(Status.Ok, d["IPI_OK"]);
        Assert.Equal(Status.NullPointer, d["IPI_E_NULL_POINTER"]);
        Assert.Equal(Status.StructSize, d["IPI_E_STRUCT_SIZE"]);
        Assert.Equal(Status.BadConfig, d["IPI_E_BAD_CONFIG"]);
        Assert.Equal(Status.BadHandle, d["IPI_E_BAD_HANDLE"]);
        Assert.Equal(Status.VcpuRange, d["IPI_E_VCPU_RANGE"]);
        Assert.Equal(Status.BadRegister, d["IPI_E_BAD_REGISTER"]);
        Assert.Equal(Status.Stopped, d["IPI_E_STOPPED"]);
        Assert.Equal(Status.State, d["IPI_E_STATE"]);
        Assert.Equal(Status.WouldBlock, d["IPI_E_WOULD_BLOCK"]);
        Assert.Equal(Status.Limit, d["IPI_E_LIMIT"]);
        Assert.Equal(Status.NoMemory, d["IPI_E_NO_MEMORY"]);
        Assert.Equal(Status.Internal, d["IPI_E_INTERNAL"]);
        Assert.Equal(Status.Faulted, d["IPI_E_FAULTED"]);
        Assert.Equal(Status.Network, d["IPI_E_NETWORK"]);
        Assert.Equal(Status.NotReplicated, d["IPI_E_NOT_REPLICATED"]);
        // Dense: every IPI_E_* is accounted for above, and none is below the lowest.
        Assert.Equal(-Status.Lowest, d.Keys.Count(k => k.StartsWith("IPI_E_", StringComparison.Ordinal)));
    }

    [Fact]
    public void Option_values_and_limits_match_the_header()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        Assert.Equal(AbiValues.AbiVersion, (uint)((d["IPI_ABI_VERSION_MAJOR"] << 16) | d["IPI_ABI_VERSION_MINOR"]));
        Assert.Equal(AbiValues.MaxEngines, d["IPI_MAX_ENGINES"]);
        Assert.Equal(AbiValues.MaxVcpus, (uint)d["IPI_MAX_VCPUS"]);
        Assert.Equal(AbiValues.TopologyReset, (uint)d["IPI_TOPOLOGY_RESET"]);
        Assert.Equal(AbiValues.TopologyXApicFlat, (uint)d["IPI_TOPOLOGY_XAPIC_FLAT"]);
        Assert.Equal(AbiValues.TopologyXApicCluster, (uint)d["IPI_TOPOLOGY_XAPIC_CLUSTER"]);
        Assert.Equal(AbiValues.TopologyXApicPhysical, (uint)d["IPI_TOPOLOGY_XAPIC_PHYSICAL"]);
        Assert.Equal(AbiValues.TopologyX2ApicPhysical, (uint)d["IPI_TOPOLOGY_X2APIC_PHYSICAL"]);
        Assert.Equal(AbiValues.TopologyX2ApicCluster, (uint)d["IPI_TOPOLOGY_X2APIC_CLUSTER"]);
        Assert.Equal(AbiValues.FlagSparseIds, (uint)d["IPI_CONFIG_SPARSE_IDS"]);
        Assert.Equal(AbiValues.FlagNoPostTimestamp, (uint)d["IPI_CONFIG_NO_POST_TIMESTAMP"]);
        Assert.Equal(AbiValues.FlagNoAssist, (uint)d["IPI_CONFIG_NO_ASSIST"]);
        Assert.Equal(AbiValues.ThreadingFused, (uint)d["IPI_THREADING_FUSED"]);
        Assert.Equal(AbiValues.ThreadingPerStage, (uint)d["IPI_THREADING_PER_STAGE"]);
        Assert.Equal(AbiValues.ThreadingInline, (uint)d["IPI_THREADING_INLINE"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.OutstandingNotification, (ulong)d["IPI_PI_ON"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.SuppressNotification, (ulong)d["IPI_PI_SN"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.NotificationVectorShift, d["IPI_PI_NV_SHIFT"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.NotificationDestinationShift, d["IPI_PI_NDST_SHIFT"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.SipiVectorShift, d["IPI_PI_EVENTS_SIPI_VECTOR_SHIFT"]);
        // The descriptor's events word uses the IPI_PENDING_* bits (a C host reads them with the same names).
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.NmiPending, (ulong)d["IPI_PENDING_NMI"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.SmiPending, (ulong)d["IPI_PENDING_SMI"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.InitPending, (ulong)d["IPI_PENDING_INIT"]);
        Assert.Equal(IpiEngine.Delivery.PostedInterruptDescriptor.SipiPending, (ulong)d["IPI_PENDING_SIPI"]);
        Assert.Equal(AbiValues.WaitDefault, (uint)d["IPI_WAIT_DEFAULT"]);
        Assert.Equal(AbiValues.WaitBusySpin, (uint)d["IPI_WAIT_BUSY_SPIN"]);
        Assert.Equal(AbiValues.WaitYielding, (uint)d["IPI_WAIT_YIELDING"]);
        Assert.Equal(AbiValues.WaitSleeping, (uint)d["IPI_WAIT_SLEEPING"]);
        Assert.Equal(AbiValues.WaitBlocking, (uint)d["IPI_WAIT_BLOCKING"]);
        Assert.Equal(AbiValues.BackPressureWait, (uint)d["IPI_BACK_PRESSURE_WAIT"]);
        Assert.Equal(AbiValues.BackPressureDrop, (uint)d["IPI_BACK_PRESSURE_DROP"]);
        Assert.Equal(NativePending.Nmi, (uint)d["IPI_PENDING_NMI"]);
        Assert.Equal(NativePending.Smi, (uint)d["IPI_PENDING_SMI"]);
        Assert.Equal(NativePending.Init, (uint)d["IPI_PENDING_INIT"]);
        Assert.Equal(NativePending.Sipi, (uint)d["IPI_PENDING_SIPI"]);
        Assert.Equal(NativeCounters.ReasonSlots, d["IPI_REJECT_REASONS"]);
    }

    [Fact]
    public void Node_values_match_the_header_and_the_engine()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        Assert.Equal(NativeNodeReader.MaxNodeId, (uint)d["IPI_MAX_NODE_ID"]);
        Assert.Equal(IpiEngine.Cli.Nodes.NodeConfig.MaxNodeId, d["IPI_MAX_NODE_ID"]); // the same ids as ipi node's config
        Assert.Equal(NativeNodeReader.FlagEncrypt, (uint)d["IPI_NODE_ENCRYPT"]);
        Assert.Equal(NativeNodeReader.FlagX2ApicRecords, (uint)d["IPI_NODE_X2APIC_RECORDS"]);
        Assert.Equal(NativeNodeReader.LocalTargetsEngine, (uint)d["IPI_LOCAL_TARGETS_ENGINE"]);
        Assert.Equal(NativeNodeReader.LocalTargetsKernel, (uint)d["IPI_LOCAL_TARGETS_KERNEL"]);
        Assert.Equal(NativeNodeReader.FullQueueWait, (uint)d["IPI_FULL_QUEUE_WAIT"]);
        Assert.Equal(NativeNodeReader.FullQueueFail, (uint)d["IPI_FULL_QUEUE_FAIL"]);
        // ipi_link_t.state is LinkState's value as is.
        foreach (LinkState state in Enum.GetValues<LinkState>())
        {
            string name = "IPI_LINK_" + Upper(state.ToString());
            Assert.Equal((long)state, d[name]);
        }
    }

    [Fact]
    public void Every_link_fault_has_its_define_with_the_engine_value_and_the_header_names_no_other()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        var expected = Enum.GetValues<LinkFault>().ToDictionary(f => "IPI_LINK_FAULT_" + Upper(f.ToString()), f => (long)f);
        var inHeader = d.Where(p => p.Key.StartsWith("IPI_LINK_FAULT_", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(expected.OrderBy(p => p.Key), inHeader.OrderBy(p => p.Key)); // ipi_link_t.last_fault is LinkFault's value as is
        Assert.Equal(NativeNodeReader.MaxKeyLength, (uint)d["IPI_MAX_KEY_LENGTH"]);
        Assert.Equal(NativeNodeFaults.LinkFaultSlots, d["IPI_LINK_FAULTS"]);
        Assert.True(expected.Values.Max() < NativeNodeFaults.LinkFaultSlots, "ipi_node_faults_t.link_faults has no room for every LinkFault");
    }

    /// <summary>A C# member name as the header spells it: ProtectionMismatch, PROTECTION_MISMATCH.</summary>
    private static string Upper(string name) => string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    [Fact]
    public void Every_topology_write_failure_has_its_index_define_with_the_engine_value()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        var expected = Enum.GetValues<TopologyWriteFailure>().ToDictionary(f => "IPI_TOPOLOGY_WRITE_" + Upper(f.ToString()), f => (long)f);
        var inHeader = d.Where(p => p.Key.StartsWith("IPI_TOPOLOGY_WRITE_", StringComparison.Ordinal) && p.Key != "IPI_TOPOLOGY_WRITE_FAILURES")
            .ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(expected.OrderBy(p => p.Key), inHeader.OrderBy(p => p.Key));
        Assert.Equal(NativeNodeFaults.TopologyWriteFailureSlots, d["IPI_TOPOLOGY_WRITE_FAILURES"]);
        Assert.True(expected.Values.Max() < NativeNodeFaults.TopologyWriteFailureSlots);
    }

    [Fact]
    public void Reject_reason_indices_are_the_engine_reason_values()
    {
        IReadOnlyDictionary<string, long> d = NativeHeader.Defines();
        var reasons = Enum.GetValues<RejectReason>().Where(r => r != RejectReason.None).ToList();
        int defined = 0;
        foreach (RejectReason reason in reasons)
        {
            string name = "IPI_REJECT_" + string.Concat(reason.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();
            Assert.True(d.TryGetValue(name, out long index), $"{name} missing from the header");
            // The array's 16 slots are all taken: a later reason needs a field of its own, as ReservedBitsSet has (ABI 1.10).
            Assert.True((int)reason < NativeCounters.ReasonSlots || reason == RejectReason.ReservedBitsSet, $"{reason} has no slot in ipi_counters.rejected_by_reason nor a field of its own");
            Assert.Equal((long)reason, index);
            defined++;
        }
        Assert.Equal(defined, d.Keys.Count(k => k.StartsWith("IPI_REJECT_", StringComparison.Ordinal) && k != "IPI_REJECT_REASONS"));
    }
}
