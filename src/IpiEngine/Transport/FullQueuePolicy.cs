namespace IpiEngine.Transport;

/// <summary>What a link does when its peer's outbound queue is full (<see cref="TransportOptions.FullQueuePolicy"/>).</summary>
public enum FullQueuePolicy
{
    /// <summary>The forwarding thread waits for room: nothing is lost; the time spent waiting is counted (stall).</summary>
    Wait,

    /// <summary>
    /// The peer is declared unreachable: every IPI for it is refused and counted <c>PeerUnreachable</c> (the engine
    /// keeps serving everything else) until its link is connected again with room in the queue. NMI, SMI, INIT and
    /// SIPI are never refused: they use a reserve of the queue the others cannot fill, and wait if even that is full.
    /// </summary>
    Fail,
}
