namespace IpiEngine;

/// <summary>
/// Makes an engine's topology writes VM-wide when the VM's vCPUs are spread over several nodes (the transport's
/// <c>TopologyReplication</c> implements it). The engine hands every routing-relevant write of a local vCPU to
/// <see cref="Replicate"/> instead of applying it; the replicator orders the writes of all nodes into one sequence and
/// applies each, in that order, on every node with <see cref="Engine.ApplyReplicatedTopologyWrite"/>.
/// </summary>
/// <remarks>Only the engine's own transport implements it (an embedder takes <c>NodeTransport.Replication</c>).</remarks>
public abstract class TopologyReplicator
{
    /// <summary>Implemented in this assembly only: the engine's ordered apply is not part of the public surface.</summary>
    private protected TopologyReplicator()
    {
    }

    /// <summary>
    /// Called once, by the constructor of the engine built with this replicator: the engine that applies the writes.
    /// Throws <see cref="InvalidOperationException"/> when the replicator already serves another engine.
    /// </summary>
    internal abstract void Attach(Engine engine);

    /// <summary>
    /// Called on the posting thread for a write of <paramref name="apicRegister"/> by local vCPU <paramref name="vcpu"/>;
    /// returns once every node of the VM applied it, or throws (the exception says why and whether the write may still be
    /// applied).
    /// </summary>
    internal abstract void Replicate(int vcpu, ushort apicRegister, ulong value);
}
