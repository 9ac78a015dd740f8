using IpiEngine.Apic;
using IpiEngine.Workload;

namespace IpiEngine.Tests.Run;

/// <summary>Address books of the topologies <see cref="ApicTopology.Configure"/> sets up.</summary>
internal static class AddressBooks
{
    public static VcpuAddressBook Dense(TopologyKind kind, int vcpus) => VcpuAddressBook.From(ApicTopology.Configure(vcpus, kind), kind);

    public static VcpuAddressBook Sparse(TopologyKind kind, int vcpus) => VcpuAddressBook.From(ApicTopology.Configure(vcpus, kind, sparseIds: true), kind);
}
