namespace IpiEngine.Apic;

// Placeholder until the APIC branch lands on main (same names as announced); removed before merging main.
/// <summary>How the guest addresses its APICs.</summary>
public enum TopologyKind
{
    /// <summary>xAPIC, logical flat (up to 8 APICs).</summary>
    XApicFlat,
    /// <summary>xAPIC, logical cluster (15 clusters of 4).</summary>
    XApicCluster,
    /// <summary>xAPIC, physical destinations.</summary>
    XApicPhysical,
    /// <summary>x2APIC, physical destinations.</summary>
    X2ApicPhysical,
    /// <summary>x2APIC, logical cluster (clusters of 16).</summary>
    X2ApicCluster,
}
