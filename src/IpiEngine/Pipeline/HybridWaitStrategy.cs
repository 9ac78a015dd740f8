namespace IpiEngine.Pipeline;

/// <summary>
/// The default: spins for a few looks (work usually arrives within a microsecond under load), yields for a while (on
/// an oversubscribed machine the producers need this core), then parks until signalled (idle costs nothing).
/// </summary>
/// <remarks>
/// A fused pipeline whose posters assist it while it is parked (<c>Stages/IdleAssist.cs</c>) yields for 8 looks
/// instead of 48 (<see cref="ForAssistedGathering"/>): once it is parked, a post no longer pays a wake-up, so parking
/// sooner costs little, while each yield of the long phase hands the core to a thread that may have nothing better to
/// do. Measured on 2026-12-03 (far state, 3 alternating rounds, docs/performance.md): ping-pong round trip p50
/// 1.3-1.6 µs with 8 yields against 12.3-13.1 µs with 48, and the same posting rates (8 producers, one record or 64
/// per call) within the runs' spread.
/// </remarks>
internal sealed class HybridWaitStrategy : WaitStrategy
{
    private const int SpinLooks = 16;
    private const int YieldLooks = 48;
    private const int AssistedYieldLooks = 8;

    private readonly int _yieldLooks;

    private HybridWaitStrategy(int yieldLooks) => _yieldLooks = yieldLooks;

    /// <summary>The shared instance.</summary>
    public static readonly HybridWaitStrategy Instance = new(YieldLooks);

    private static readonly HybridWaitStrategy Assisted = new(AssistedYieldLooks);

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Hybrid;

    /// <inheritdoc/>
    public override WaitStrategy ForAssistedGathering => Assisted;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        if (look < SpinLooks)
        {
            Thread.SpinWait(8);
            return false;
        }

        if (look < SpinLooks + _yieldLooks)
        {
            Thread.Yield();
            return false;
        }

        return true;
    }
}
