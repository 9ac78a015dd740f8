using System.Runtime.CompilerServices;

namespace IpiEngine.Delivery;

/// <summary>
/// What the pipeline calls for a vCPU that has new pending interrupts: the engine's own notification first (a thread or
/// task waiting in <see cref="Engine.WaitForPending"/>), then the embedder's notifier. Generic over the embedder's struct,
/// so both calls inline. Not readonly: a notifier struct with state keeps it (each delivery path holds its own copy).
/// </summary>
internal struct EngineNotifier<TEmbedder>(PendingWaiters waiters, TEmbedder embedder) : IDeliveryNotifier
    where TEmbedder : struct, IDeliveryNotifier
{
    private TEmbedder _embedder = embedder;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Notify(int vcpu)
    {
        waiters.Wake(vcpu);
        _embedder.Notify(vcpu);
    }
}
