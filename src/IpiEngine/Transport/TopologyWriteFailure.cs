namespace IpiEngine.Transport;

/// <summary>
/// Why a replicated topology write failed; counted per node (<see cref="TopologyReplication.FailureCount"/>). A write
/// that failed after it was sent may still be applied; posting the same write again as that vCPU's next topology write
/// returns once it is applied everywhere, and never applies it twice (docs/wire-format.md, "A caller's retry").
/// </summary>
public enum TopologyWriteFailure
{
    /// <summary>
    /// The sequencer did not order the write within the timeout (its link was down, it did not answer, or, restarted, it
    /// was still recovering the VM's order: it waits for every node), or ordered it but this node had not taken it yet
    /// (it waited behind a write still being applied here). It may still be applied on every node, in one order.
    /// </summary>
    NotOrdered,
    /// <summary>
    /// The write was ordered and taken on this node (applied, or being applied, in that order, which a recovery keeps)
    /// but not every node confirmed it within the timeout.
    /// </summary>
    NotConfirmed,
    /// <summary>The node stopped while the write was in flight.</summary>
    Stopped,
}
