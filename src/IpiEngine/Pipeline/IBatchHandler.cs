namespace IpiEngine.Pipeline;

/// <summary>
/// A processor's work, implemented by a struct so that <see cref="BatchEventProcessor{T, THandler}"/> calls it without
/// dispatch: it receives whole available batches.
/// </summary>
/// <typeparam name="T">The ring's entry type.</typeparam>
internal interface IBatchHandler<T> where T : unmanaged
{
    /// <summary>Handles the entries <paramref name="first"/>..<paramref name="last"/> (inclusive) of <paramref name="ring"/>.</summary>
    void OnBatch(RingBuffer<T> ring, long first, long last);
}
