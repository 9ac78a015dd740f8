using IpiEngine.Apic;

namespace IpiEngine;

/// <content>The replicator's side: the engine it serves, the initial digest, and the ordered apply of every node's writes.</content>
public sealed partial class Engine
{
    /// <summary>
    /// Applies a topology write that the <see cref="EngineOptions.Replicator"/> ordered (posted here or on another node)
    /// with the local guarantee of <see cref="ApplyTopologyWrite"/>: every IPI posted here before resolves with the old
    /// topology, every one after with the new. Counted in <see cref="EngineCounters.TopologyWrites"/> (and, when
    /// <paramref name="fromPeer"/>, in <see cref="EngineCounters.PeerTopologyWrites"/>). For the replicator's applier only.
    /// </summary>
    /// <exception cref="InvalidOperationException">The engine is stopped.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    internal void ApplyReplicatedTopologyWrite(int vcpu, ushort register, ulong value, bool fromPeer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, _vcpus);
        if (!ApicTopology.IsTopologyRegister(register))
        {
            throw new ArgumentException($"Register 0x{register:x} is not a topology register (APIC ID, LDR, DFR, SVR, IA32_APIC_BASE).", nameof(register));
        }

        ApplyInOrder(vcpu, register, value, 1, fromPeer);
    }

    /// <summary>Hands the engine to its replicator, if any; an engine the replicator refuses is freed before the error.</summary>
    private void AttachReplicator()
    {
        try
        {
            _options.Replicator?.Attach(this);
        }
        catch
        {
            _descriptors.Dispose();
            _log?.Dispose();
            throw;
        }
    }
}
