using BenchmarkDotNet.Attributes;

namespace IpiEngine.Benchmarks.Baselines;

/// <summary>
/// The engine's flow (unicast, 1 / 2 / 8 / 64 producers) on System.Threading.Channels and on ConcurrentQueue, for the
/// "at least 10x the Channels baseline" goal: run with the end-to-end benchmarks in one session. One operation = one IPI.
/// </summary>
[BenchmarkCategory("Baselines")]
[MemoryDiagnoser]
public class BaselineBenchmarks
{
    private const int Ipis = 1 << 18;
    private ChannelsRig _channels = null!;
    private ConcurrentQueueRig _queues = null!;

    /// <summary>Producer threads.</summary>
    [Params(1, 2, 8, 64)]
    public int Producers { get; set; }

    /// <summary>Starts the Channels rig.</summary>
    [GlobalSetup(Target = nameof(Channels))]
    public void SetupChannels() => _channels = new ChannelsRig(Producers, Ipis, capacity: 4096);

    /// <summary>Starts the ConcurrentQueue rig.</summary>
    [GlobalSetup(Target = nameof(ConcurrentQueues))]
    public void SetupQueues() => _queues = new ConcurrentQueueRig(Producers, Ipis);

    /// <summary>Stops whichever rig ran.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _channels?.Dispose();
        _queues?.Dispose();
    }

    /// <summary>Bounded channel per vCPU, single reader and writer.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ipis)]
    public void Channels() => _channels.RunOnce();

    /// <summary>ConcurrentQueue per vCPU.</summary>
    [Benchmark(OperationsPerInvoke = Ipis)]
    public void ConcurrentQueues() => _queues.RunOnce();
}
