namespace IpiEngine;

/// <summary>
/// Who serves an IPI's destinations on this node. On a KVM host with the distributed-VM patch, <c>apic_mmio_write</c>
/// applies the ICR write inside KVM (delivering to the local vCPUs) before it exits to userspace, so the engine must
/// only forward the other nodes' targets (see docs/distributed.md).
/// </summary>
public enum LocalTargets
{
    /// <summary>The engine delivers local destinations into its descriptors (the default; a simulator, or a hypervisor that does not deliver itself).</summary>
    Engine,
    /// <summary>The host's kernel already delivered local destinations: the engine counts them as served by the host and forwards only remote ones.</summary>
    Kernel,
}
