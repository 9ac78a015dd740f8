namespace IpiEngine.Native;

/// <summary>The option values of <c>ipi_config_t</c> (<c>IPI_TOPOLOGY_*</c>, <c>IPI_THREADING_*</c>, ...), as the header numbers them.</summary>
internal static class AbiValues
{
    /// <summary>
    /// <c>IPI_ABI_VERSION</c>: major 1, minor 13 (1.1 added <c>IPI_E_FAULTED</c>; 1.2 nodes; 1.3 descriptors, SN, inline;
    /// 1.4 the undelivered counter, link fault names and the node config's placement length; 1.5 <c>IPI_CONFIG_NO_ASSIST</c>;
    /// 1.6 the pipeline threads' CPUs in <c>ipi_config_t</c>; 1.7 send batches; 1.8 <c>ipi_link_t</c>'s flush sends and
    /// time in each link state; 1.9 <c>IPI_LINK_FAULT_TOO_MANY_HANDSHAKES</c>; 1.10 <c>ipi_counters_t.rejected_reserved_bits</c>; 1.11
    /// <c>IPI_LINK_FAULT_SINK_FAILED</c>; 1.12 <c>ipi_post_batch_ex</c>; 1.13 <c>ipi_node_faults_t.topology_write_failures_applied</c> and
    /// <c>rejected_handshakes</c>, and a failed start leaving the engine failed).
    /// </summary>
    public const uint AbiVersion = (1u << 16) | 13u;

    /// <summary><c>IPI_MAX_ENGINES</c>.</summary>
    public const int MaxEngines = 256;

    /// <summary><c>IPI_MAX_VCPUS</c>: vCPU indices are 16-bit in <see cref="ExitRecord"/>.</summary>
    public const uint MaxVcpus = 65535;

    public const uint TopologyReset = 1;
    public const uint TopologyXApicFlat = 2;
    public const uint TopologyXApicCluster = 3;
    public const uint TopologyXApicPhysical = 4;
    public const uint TopologyX2ApicPhysical = 5;
    public const uint TopologyX2ApicCluster = 6;

    public const uint FlagSparseIds = 0x1;
    public const uint FlagNoPostTimestamp = 0x2;
    public const uint FlagNoAssist = 0x4;
    public const uint KnownFlags = FlagSparseIds | FlagNoPostTimestamp | FlagNoAssist;

    public const uint ThreadingFused = 0;
    public const uint ThreadingPerStage = 1;
    public const uint ThreadingInline = 2;

    public const uint WaitDefault = 0;
    public const uint WaitBusySpin = 1;
    public const uint WaitYielding = 2;
    public const uint WaitSleeping = 3;
    public const uint WaitBlocking = 4;

    public const uint BackPressureWait = 0;
    public const uint BackPressureDrop = 1;
}
