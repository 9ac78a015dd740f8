using IpiEngine.Pipeline;

namespace IpiEngine.Load;

/// <summary>A steady offered load for latency measurement: producers, their pace, and the engine's configuration.</summary>
internal sealed class SteadyLoadOptions
{
    /// <summary>Producer threads, one vCPU each (at least 2 vCPUs are configured). Default 8.</summary>
    public int Producers { get; init; } = 8;

    /// <summary>IPIs each producer posts per second, evenly spaced. Default 100,000.</summary>
    public int RatePerProducer { get; init; } = 100_000;

    /// <summary>IPIs each producer posts in total. Default 100,000.</summary>
    public int IpisPerProducer { get; init; } = 100_000;

    /// <summary>The engine's threading mode.</summary>
    public ThreadingMode Mode { get; init; } = ThreadingMode.Fused;

    /// <summary>The engine's wait strategy.</summary>
    public WaitStrategyKind Wait { get; init; } = WaitStrategyKind.Hybrid;
}
