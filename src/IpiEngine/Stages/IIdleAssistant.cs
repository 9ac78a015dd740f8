namespace IpiEngine.Stages;

/// <summary>Fused mode's idle assist, as the producer side sees it (<see cref="IdleAssist"/> has the protocol).</summary>
internal interface IIdleAssistant
{
    /// <summary>
    /// A poster whose doorbell bit read clear after it published into <paramref name="source"/>'s ring: if the pipeline
    /// thread is parked, resolves and delivers that ring's records on the calling thread and returns true; otherwise
    /// returns false, and the caller rings the bell and signals as usual. A poster that must not wait (a try-post) passes
    /// <paramref name="mayWait"/> false, and is refused where an assisted pass could wait (for a peer's window). Throws
    /// <see cref="EngineFaultedException"/> when the assisted pass failed (the engine is then faulted).
    /// </summary>
    bool TryAssist(int source, bool mayWait);
}
