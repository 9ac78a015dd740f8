using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>
/// The engine's threads and stages behind one control-plane surface (interface calls here are per control operation,
/// never per IPI): start, stop with drain, the topology-ordering wait, inline draining, remote injection, counters.
/// Implemented once, by <see cref="EnginePipeline{TNotifier}"/>; the threading modes differ only in their threads (Inline has none).
/// </summary>
internal interface IEnginePipeline
{
    /// <summary>
    /// Every counter block the pipeline's threads own, in the order of the data flow (<see cref="Engine.ReadCounters"/>
    /// reads them backwards).
    /// </summary>
    StageCounters[] Counters { get; }

    /// <summary>Starts the threads.</summary>
    void Start();

    /// <summary>Asks the threads to drain and exit, and waits for them (the rings are closed first, by the engine).</summary>
    void StopAndJoin();

    /// <summary>
    /// Waits until every record published before <paramref name="publishedSnapshot"/> was taken (per ring) has been
    /// resolved; returns false if the pipeline stopped or failed meanwhile.
    /// </summary>
    bool WaitResolved(ReadOnlySpan<long> publishedSnapshot);

    /// <summary>
    /// After a fault, with the threads joined: how many taken records were never resolved (still in the vCPU rings, or
    /// between stages). Stop counts them as rejected (<see cref="Apic.RejectReason.EngineFaulted"/>).
    /// </summary>
    long UnresolvedAfterFault();

    /// <summary>
    /// After a fault, with the threads joined: how many resolved destinations were never delivered (per-stage mode: left
    /// in the delivery ring). Stop counts them as <see cref="EngineCounters.Undelivered"/>.
    /// </summary>
    long UndeliveredAfterFault();

    /// <summary>Resolves and delivers everything in the rings on the calling thread (only while no pipeline thread runs).</summary>
    void DrainInline();

    /// <summary>Applies deliveries forwarded by another node (any thread; serialised).</summary>
    void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries);
}
