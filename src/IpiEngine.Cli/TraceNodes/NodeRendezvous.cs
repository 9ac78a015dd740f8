namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// The VM-wide wait before a trace's topology rows: <see cref="Arrive"/> returns once every node's vCPU threads have
/// posted everything before the rows, so that no node applies a topology write before its own earlier IPIs are posted
/// (they must resolve with the old topology). In one process a barrier; across processes the orchestrator's
/// <c>at K</c> / <c>pass K</c> lines.
/// </summary>
internal abstract class NodeRendezvous
{
    /// <summary>This node reached the <paramref name="ordinal"/>-th run of topology rows (from 1); waits for the others.</summary>
    public abstract void Arrive(int ordinal, CancellationToken ct);
}

/// <summary>The rendezvous of nodes running in one process: a barrier with one participant per node.</summary>
internal sealed class InProcessRendezvous(int nodes) : NodeRendezvous, IDisposable
{
    private readonly Barrier _barrier = new(nodes);

    /// <inheritdoc/>
    public override void Arrive(int ordinal, CancellationToken ct) => _barrier.SignalAndWait(ct);

    /// <summary>A node that failed leaves, so that the others are not held forever.</summary>
    public void Leave() => _barrier.RemoveParticipant();

    /// <inheritdoc/>
    public void Dispose() => _barrier.Dispose();
}
