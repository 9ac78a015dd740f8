namespace IpiEngine;

/// <summary>How the engine spreads its stages over threads. Both modes deliver exactly the same interrupts.</summary>
public enum ThreadingMode
{
    /// <summary>One thread gathers, resolves, batches and delivers each available batch (best on few cores).</summary>
    Fused,
    /// <summary>A thread per stage (gather, resolve, batch+deliver) linked by ring buffers (scales on many cores).</summary>
    PerStage,
}
