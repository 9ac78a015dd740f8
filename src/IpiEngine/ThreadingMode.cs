namespace IpiEngine;

/// <summary>How the engine spreads its stages over threads. Every mode delivers exactly the same interrupts.</summary>
public enum ThreadingMode
{
    /// <summary>
    /// One thread gathers, resolves, batches and delivers each available batch (best on few cores). While it is parked, a
    /// post resolves and delivers its own vCPU's records itself (<see cref="EngineOptions.AssistIdlePipeline"/>).
    /// </summary>
    Fused,
    /// <summary>A thread per stage (gather, resolve, batch+deliver) linked by ring buffers (scales on many cores).</summary>
    PerStage,
    /// <summary>
    /// No pipeline thread: each post resolves and delivers on the posting thread before it returns. Deterministic (the
    /// same posts in the same order give the same deliveries, notifications and log), for single-threaded simulators.
    /// Posts from several threads are serialised by a lock (docs/lifecycle.md).
    /// </summary>
    Inline,
}
