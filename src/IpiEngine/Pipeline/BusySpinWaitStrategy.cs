namespace IpiEngine.Pipeline;

/// <summary>The pipeline's threads spin with a pause instruction and never give the core away.</summary>
/// <remarks>
/// Only the pipeline's threads spin. A producer waiting for room in its full ring waits as Hybrid's do
/// (<see cref="ForRoom"/>: yields, then parks), as Disruptor's producers wait for capacity whatever the consumers'
/// strategy: room comes only from the pipeline thread, and spinning producers take the cores it needs. With eight vCPU
/// threads and the pipeline on this machine's two cores, spinning producers left the pipeline thread 0.22-0.23 of a core
/// and the run 6.3-15.2 M IPIs/s (4 runs, `ipi run --vcpus 8 --workload unicast --batch 1 --wait busy-spin`), against
/// 0.90 of a core and 37.6-74.8 M with Hybrid in the same rounds, near and far (docs/performance-log.md, thirty-fourth
/// session); waiting for room as Hybrid's producers do, busy-spin moved 54.3-68.7 M near.
/// </remarks>
internal sealed class BusySpinWaitStrategy : WaitStrategy
{
    /// <summary>The shared instance.</summary>
    public static readonly BusySpinWaitStrategy Instance = new();

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.BusySpin;

    /// <inheritdoc/>
    public override WaitStrategy ForRoom => HybridWaitStrategy.Room;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        Thread.SpinWait(8);
        return false;
    }
}
