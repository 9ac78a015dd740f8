namespace IpiEngine.Delivery;

/// <summary>
/// Told when a vCPU has new pending interrupts and no notification outstanding: a vCPU is notified again only after it
/// has taken its pending interrupts. Implemented by structs: the engine is generic over the notifier type, so the call
/// inlines; an embedder supplies one to <see cref="Engine.Create{TNotifier}"/> (the engine keeps a copy per delivery
/// path, local and remote: shared state belongs in a referenced object). Called from any thread that delivers (the pipeline's
/// deliver thread; in fused mode also a posting thread that found the pipeline thread parked and delivered its own records,
/// <see cref="EngineOptions.AssistIdlePipeline"/>; every thread that calls <see cref="Engine.DeliverRemote"/>; and for an engine never started the thread
/// whose stop or topology write drains the queue), possibly concurrently: it must be thread-safe. Keep it short (kick
/// the vCPU), and never post to the engine from it, nor stop, dispose or write its topology (each waits for the thread
/// that is running the notifier, or takes its locks in the other order: the engine hangs). An exception it throws is handled by
/// <see cref="EngineOptions.NotifierExceptions"/> (docs/lifecycle.md).
/// </summary>
public interface IDeliveryNotifier
{
    /// <summary>The vCPU's descriptor has something new; take it with <see cref="Engine.TakePending"/>.</summary>
    void Notify(int vcpu);
}
