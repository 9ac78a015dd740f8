namespace IpiEngine.Pipeline;

/// <summary>
/// The default: spins for a few looks (work usually arrives within a microsecond under load), yields for a while (on
/// an oversubscribed machine the producers need this core), then parks until signalled (idle costs nothing).
/// </summary>
/// <remarks>
/// A fused pipeline whose posters assist it while it is parked (<c>Stages/IdleAssist.cs</c>) yields for 8 looks
/// instead of 48 (<see cref="ForAssistedGathering"/>): once it is parked, a post no longer pays a wake-up, so parking
/// sooner costs little, while each yield of the long phase hands the core to a thread that may have nothing better to
/// do. Measured on 2026-12-03 (far state, 3 alternating rounds, docs/performance-log.md): ping-pong round trip p50
/// 1.3-1.6 µs with 8 yields against 12.3-13.1 µs with 48, and the same posting rates (8 producers, one record or 64
/// per call) within the runs' spread.
/// <para>
/// A producer waiting for room in its full ring does not spin (<see cref="ForRoom"/>): it yields for 112 looks, then
/// parks. A full ring means the pipeline thread is behind, and when threads outnumber cores (8 vCPU threads and the
/// pipeline thread on this machine's 2) a spinning producer holds a core the pipeline thread may be waiting for; a yield
/// that finds nothing else to run returns at once. Measured on 2026-12-06 (docs/performance-log.md, twenty-fourth session).
/// </para>
/// </remarks>
internal sealed class HybridWaitStrategy : WaitStrategy
{
    private const int SpinLooks = 16;
    private const int YieldLooks = 48;
    private const int AssistedYieldLooks = 8;
    private const int RoomYieldLooks = 112;

    private readonly int _spinLooks;
    private readonly int _yieldLooks;

    private HybridWaitStrategy(int spinLooks, int yieldLooks)
    {
        _spinLooks = spinLooks;
        _yieldLooks = yieldLooks;
    }

    /// <summary>The shared instance.</summary>
    public static readonly HybridWaitStrategy Instance = new(SpinLooks, YieldLooks);

    private static readonly HybridWaitStrategy Assisted = new(SpinLooks, AssistedYieldLooks);

    /// <summary>How a producer waits for room in its full ring: yields from the first look, then parks (remarks).</summary>
    internal static readonly HybridWaitStrategy Room = new(0, RoomYieldLooks);

    /// <inheritdoc/>
    public override WaitStrategyKind Kind => WaitStrategyKind.Hybrid;

    /// <inheritdoc/>
    public override WaitStrategy ForAssistedGathering => Assisted;

    /// <inheritdoc/>
    public override WaitStrategy ForRoom => Room;

    /// <inheritdoc/>
    protected internal override bool Pause(int look)
    {
        if (look < _spinLooks)
        {
            Thread.SpinWait(8);
            return false;
        }

        if (look < _spinLooks + _yieldLooks)
        {
            Thread.Yield();
            return false;
        }

        return true;
    }
}
