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
    /// <summary>Spins with a pause instruction: lowest latency, burns a core; only when every thread has its own core.</summary>
    BusySpin,
    /// <summary>Spins briefly, then yields the core on every later attempt; never parks.</summary>
    Yielding,
    /// <summary>Spins, yields, then sleeps about a millisecond per attempt: cheap when idle, slow to react.</summary>
    Sleeping,
    /// <summary>Parks on an event at once until a producer signals: no CPU while idle, a wake-up on every transition.</summary>
    Blocking,
}
