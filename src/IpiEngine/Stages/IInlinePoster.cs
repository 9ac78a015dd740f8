namespace IpiEngine.Stages;

/// <summary>Inline mode's way in: the engine's posts, resolved and delivered on the calling thread.</summary>
internal interface IInlinePoster
{
    /// <summary>
    /// Posts one record (<paramref name="source"/> valid, not a topology register) and, once the engine runs, resolves
    /// and delivers it before returning. False only before the start, when the ring is full and <paramref name="wait"/> is false.
    /// </summary>
    bool Post(int source, ushort register, ulong value, uint destinationId, ulong tag, long timestamp, bool wait);

    /// <summary>Posts a run of one source (no topology registers), resolving and delivering it piece by piece.</summary>
    void PostRun(int source, ReadOnlySpan<ExitRecord> run, long timestamp);
}
