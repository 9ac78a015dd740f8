namespace IpiEngine.Delivery;

/// <summary>
/// Told when a vCPU has new pending interrupts and no notification outstanding: a vCPU is notified again only after it
/// has taken its pending interrupts. Implemented by structs: the engine is generic over the notifier type, so the call
/// inlines. Called from any engine thread (the deliver thread, and every thread that calls
/// <see cref="Engine.DeliverRemote"/>), possibly concurrently: it must be thread-safe. Keep it short (kick the vCPU),
/// and never post to the engine from it. An exception it throws is handled by
/// <see cref="EngineOptions.NotifierExceptions"/> (docs/lifecycle.md).
/// </summary>
public interface IDeliveryNotifier
{
    /// <summary>The vCPU's descriptor has something new; take it with <see cref="DescriptorTable.Take"/>.</summary>
    void Notify(int vcpu);
}
