namespace IpiEngine.Apic;

/// <summary>How <see cref="ApicTopology.Configure"/> sets the APICs up, the way an OS would.</summary>
public enum TopologyKind
{
    /// <summary>xAPIC, logical flat: one LDR bit per vCPU (at most 8 vCPUs).</summary>
    XApicFlat,
    /// <summary>xAPIC, logical cluster: clusters of 4 (at most 15 clusters, 60 vCPUs).</summary>
    XApicCluster,
    /// <summary>xAPIC, physical destinations (8-bit IDs below the 0xFF broadcast: at most 255 vCPUs).</summary>
    XApicPhysical,
    /// <summary>x2APIC, physical destinations (32-bit IDs).</summary>
    X2ApicPhysical,
    /// <summary>x2APIC, logical cluster destinations (LDR derived from the x2APIC ID; clusters of 16).</summary>
    X2ApicCluster,
}
