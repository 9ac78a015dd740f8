using IpiEngine.Apic;

namespace IpiEngine.Workload;

/// <summary>
/// How a guest addresses each of its vCPUs in one topology, and how it turns "send this to that set" into the
/// ICR writes the hypervisor traps, the way Linux's APIC drivers do (arch/x86/kernel/apic/):
/// xAPIC writes ICR2 (0x310) then ICR (0x300); x2APIC writes one 64-bit MSR 0x830;
/// physical modes send one write per destination (<c>default_send_IPI_mask_sequence_phys</c>,
/// <c>x2apic_phys</c>), logical flat one write for the whole set (<c>default_send_IPI_mask_logical</c>),
/// logical cluster one write per cluster (<c>x2apic_cluster.c</c> <c>__x2apic_send_IPI_mask</c>).
/// </summary>
internal sealed class VcpuAddressBook
{
    private readonly uint[] apicIds;
    private readonly byte[] logicalIds;

    /// <summary>Creates an address book from each vCPU's APIC ID and (xAPIC logical modes) its LDR bits 31:24.</summary>
    public VcpuAddressBook(TopologyKind kind, uint[] apicIds, byte[] logicalIds)
    {
        ArgumentNullException.ThrowIfNull(apicIds);
        ArgumentNullException.ThrowIfNull(logicalIds);
        if (apicIds.Length == 0 || logicalIds.Length != apicIds.Length)
        {
            throw new ArgumentException("One APIC ID and one logical ID per vCPU, at least one vCPU.", nameof(apicIds));
        }

        Kind = kind;
        this.apicIds = apicIds;
        this.logicalIds = logicalIds;
    }

    /// <summary>
    /// The address book of a topology set up by <see cref="ApicTopology.Configure"/> (or any topology whose APICs are
    /// addressed the <paramref name="kind"/> way): each vCPU's current APIC ID and xAPIC logical ID.
    /// </summary>
    public static VcpuAddressBook From(ApicTopology topology, TopologyKind kind)
    {
        ArgumentNullException.ThrowIfNull(topology);
        var ids = new uint[topology.VcpuCount];
        var logical = new byte[topology.VcpuCount];
        for (var v = 0; v < ids.Length; v++)
        {
            ids[v] = topology.CurrentApicId(v);
            logical[v] = topology.Apics[v].LogicalId;
        }

        return new VcpuAddressBook(kind, ids, logical);
    }

    /// <summary>The addressing the guest uses.</summary>
    public TopologyKind Kind { get; }

    /// <summary>Number of vCPUs.</summary>
    public int VcpuCount => apicIds.Length;

    /// <summary>True when the guest writes the x2APIC ICR MSR rather than the xAPIC ICR pair.</summary>
    public bool IsX2Apic => Kind is TopologyKind.X2ApicPhysical or TopologyKind.X2ApicCluster;

    /// <summary>True when multicast and unicast go through logical destination mode.</summary>
    public bool IsLogical => Kind is TopologyKind.XApicFlat or TopologyKind.XApicCluster or TopologyKind.X2ApicCluster;

    /// <summary>A vCPU's APIC ID (xAPIC 8-bit or x2APIC 32-bit).</summary>
    public uint ApicIdOf(int vcpu) => apicIds[vcpu];

    /// <summary>A vCPU's xAPIC logical ID (LDR bits 31:24), or for x2APIC cluster the LDR derived from its ID.</summary>
    public uint LogicalIdOf(int vcpu)
        => Kind == TopologyKind.X2ApicCluster ? (apicIds[vcpu] >> 4) << 16 | 1u << (int)(apicIds[vcpu] & 0xF) : logicalIds[vcpu];

    /// <summary>
    /// Appends the <c>KVM_HC_SEND_IPI</c> calls that send <paramref name="icrLow"/> (physical, no shorthand) from
    /// <paramref name="source"/> to <paramref name="destinations"/>, as the guest's <c>__send_ipi_mask</c> does: APIC IDs
    /// ascending, one call per window of 128 IDs from its lowest (each call two records, the upper half first). Returns
    /// how many calls fire.
    /// </summary>
    public int AppendPvIpi(List<ExitRecord> into, int source, uint icrLow, ReadOnlySpan<int> destinations, ulong tag)
    {
        ArgumentNullException.ThrowIfNull(into);
        var ids = new uint[destinations.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = apicIds[destinations[i]];
        }

        Array.Sort(ids);
        var calls = 0;
        var i0 = 0;
        while (i0 < ids.Length)
        {
            uint min = ids[i0];
            ulong low = 0, high = 0;
            var i = i0;
            for (; i < ids.Length && ids[i] - min < 128; i++)
            {
                var bit = (int)(ids[i] - min);
                if (bit < 64)
                {
                    low |= 1ul << bit;
                }
                else
                {
                    high |= 1ul << (bit - 64);
                }
            }

            into.Add(new ExitRecord((ushort)source, ApicRegister.PvSendIpiHigh, high, icrLow, tag, 0));
            into.Add(new ExitRecord((ushort)source, ApicRegister.PvSendIpi, low, min, tag, 0));
            calls++;
            i0 = i;
        }

        return calls;
    }

    /// <summary>
    /// Appends the writes that send <paramref name="icrLow"/> (vector, delivery mode, trigger; no destination mode, no
    /// shorthand) from <paramref name="source"/> to the vCPUs in <paramref name="destinations"/> (ascending, distinct),
    /// in the topology's own destination mode. Returns how many of the appended writes fire.
    /// </summary>
    public int AppendSend(List<ExitRecord> into, int source, uint icrLow, ReadOnlySpan<int> destinations, ulong tag)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!IsLogical)
        {
            foreach (var d in destinations)
            {
                AppendFiring(into, source, icrLow, apicIds[d], tag);
            }

            return destinations.Length;
        }

        const uint LogicalMode = 1u << 11; // ICR bit 11: destination mode logical.
        if (Kind == TopologyKind.XApicFlat)
        {
            uint mda = 0;
            foreach (var d in destinations)
            {
                mda |= logicalIds[d];
            }

            AppendFiring(into, source, icrLow | LogicalMode, mda, tag);
            return 1;
        }

        // Cluster modes: one write per cluster, members OR-ed into the low bits (xAPIC: 4 bits; x2APIC: 16 bits).
        var fired = 0;
        var i = 0;
        while (i < destinations.Length)
        {
            var cluster = ClusterOf(destinations[i]);
            uint members = 0;
            for (var j = i; j < destinations.Length; j++)
            {
                if (ClusterOf(destinations[j]) == cluster)
                {
                    members |= MemberBitsOf(destinations[j]);
                }
            }

            if (!AlreadySent(destinations[..i], cluster))
            {
                AppendFiring(into, source, icrLow | LogicalMode, cluster | members, tag);
                fired++;
            }

            i++;
        }

        return fired;
    }

    /// <summary>
    /// The logical destination that reaches <paramref name="destinations"/> (ascending, distinct) in one message, as a
    /// device's MSI names them: flat, the OR of their logical IDs; cluster modes, the first one's cluster and those of
    /// its members that are in the set (a message reaches one cluster). Only for logical topologies.
    /// </summary>
    public uint LogicalDestination(ReadOnlySpan<int> destinations)
    {
        if (!IsLogical || destinations.IsEmpty)
        {
            throw new InvalidOperationException("A logical destination needs a logical topology and at least one vCPU.");
        }

        if (Kind == TopologyKind.XApicFlat)
        {
            uint mda = 0;
            foreach (var d in destinations)
            {
                mda |= logicalIds[d];
            }

            return mda;
        }

        var cluster = ClusterOf(destinations[0]);
        uint members = 0;
        foreach (var d in destinations)
        {
            if (ClusterOf(d) == cluster)
            {
                members |= MemberBitsOf(d);
            }
        }

        return cluster | members;
    }

    /// <summary>Appends a physical-mode write to one vCPU (INIT and SIPI go by APIC ID whatever the topology).</summary>
    public void AppendPhysical(List<ExitRecord> into, int source, uint icrLow, int destination, ulong tag)
        => AppendFiring(into, source, icrLow, apicIds[destination], tag);

    /// <summary>
    /// Appends a write with a destination shorthand (ICR bits 19:18 set in <paramref name="icrLow"/>): the
    /// destination field is ignored, so xAPIC writes only ICR low (Linux <c>__default_send_IPI_shortcut</c>).
    /// </summary>
    public void AppendShorthand(List<ExitRecord> into, int source, uint icrLow, ulong tag)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (IsX2Apic)
        {
            into.Add(ExitRecord.Create((ushort)source, ApicRegister.X2Icr, icrLow, 0, tag));
        }
        else
        {
            into.Add(ExitRecord.Create((ushort)source, ApicRegister.IcrLow, icrLow, 0, tag));
        }
    }

    private void AppendFiring(List<ExitRecord> into, int source, uint icrLow, uint destination, ulong tag)
    {
        if (IsX2Apic)
        {
            into.Add(ExitRecord.Create((ushort)source, ApicRegister.X2Icr, (ulong)destination << 32 | icrLow, destination, tag));
            return;
        }

        // xAPIC: the destination goes through ICR2 bits 31:24, then the ICR low write fires with the latched value.
        var dest8 = destination & 0xFF;
        into.Add(ExitRecord.Create((ushort)source, ApicRegister.IcrHigh, dest8 << 24, dest8, tag));
        into.Add(ExitRecord.Create((ushort)source, ApicRegister.IcrLow, icrLow, dest8, tag));
    }

    private uint ClusterOf(int vcpu)
        => Kind == TopologyKind.X2ApicCluster ? (apicIds[vcpu] >> 4) << 16 : logicalIds[vcpu] & 0xF0u;

    private uint MemberBitsOf(int vcpu)
        => Kind == TopologyKind.X2ApicCluster ? 1u << (int)(apicIds[vcpu] & 0xF) : logicalIds[vcpu] & 0x0Fu;

    private bool AlreadySent(ReadOnlySpan<int> earlier, uint cluster)
    {
        foreach (var d in earlier)
        {
            if (ClusterOf(d) == cluster)
            {
                return true;
            }
        }

        return false;
    }
}
