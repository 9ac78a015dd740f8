namespace IpiEngine.Pipeline;

/// <summary>How a thread that finds nothing to do waits for more.</summary>
public enum WaitStrategyKind
{
    /// <summary>
    /// The default: spins briefly, then yields its core for a while, then parks until signalled. It reacts within
    /// nanoseconds under load, and when threads outnumber cores (a simulator's many vCPU threads on few cores) it stops
    /// taking CPU from the threads that would give it work.
    /// </summary>
    Hybrid,
    /// <summary>
    /// The pipeline's threads spin with a pause instruction: lowest latency, each burns a core, idle or not; only when
    /// they have cores of their own. A producer whose ring is full still yields and then parks, as with
    /// <see cref="Hybrid"/>, so that it never takes the core the pipeline needs to make room.
    /// </summary>
    BusySpin,
    /// <summary>Spins briefly, then yields the core on every later attempt; never parks.</summary>
    Yielding,
    /// <summary>Spins, yields, then sleeps about a millisecond per attempt: cheap when idle, slow to react.</summary>
    Sleeping,
    /// <summary>Parks on an event at once until a producer signals: no CPU while idle, a wake-up on every transition.</summary>
    Blocking,
}
