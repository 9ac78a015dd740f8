namespace IpiEngine.Benchmarks.EndToEnd;

/// <summary>The IPI mix a benchmark offers.</summary>
public enum Traffic
{
    /// <summary>x2APIC physical unicast, fixed, rotating destinations and vectors.</summary>
    Unicast,
    /// <summary>x2APIC logical cluster multicast to 4 members of a cluster.</summary>
    Multicast,
    /// <summary>70 % unicast, 20 % multicast, 10 % all-excluding-self.</summary>
    Mixed,
}
