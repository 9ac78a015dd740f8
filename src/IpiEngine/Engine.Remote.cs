using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;

namespace IpiEngine;

/// <summary>
/// What other nodes send this engine: their deliveries to its vCPUs and, on the VM's IOAPIC node, their vCPUs' IOAPIC
/// EOIs and entry writes, which are posted on those vCPUs' rings here (the link is the ring's one producer).
/// </summary>
public sealed partial class Engine
{
    /// <summary>
    /// Applies deliveries forwarded by another node's engine to this node's descriptors: same coalescing, notification
    /// and log rules as local delivery; counted as remote delivered / coalesced; a destination that is not a local
    /// vCPU (or a reserved delivery mode) is counted as remote rejected. Any thread.
    /// </summary>
    /// <remarks>
    /// A peer vCPU's IOAPIC EOI or entry write among the deliveries (on the VM's IOAPIC node) is posted on that vCPU's
    /// ring here, and this call waits while that ring is full, as <see cref="Post"/> does: do not call it from a thread
    /// that the pipeline's forwards wait for, such as the receive loop of a link whose acknowledgements free a peer's
    /// window. The links of <see cref="Transport.NodeTransport"/> wait there only while no forward waits for a peer's
    /// window, and otherwise hand the rest of the frame back to be sent again (<see cref="Transport.EngineSink"/>).
    /// </remarks>
    /// <exception cref="EngineFaultedException">The pipeline failed (a fail-fast notifier): every delivery was still applied and counted.</exception>
    /// <exception cref="InvalidOperationException">The engine is not started and a peer vCPU's ring has no room for that
    /// vCPU's IOAPIC EOIs and entry writes among the deliveries: none of them was applied.</exception>
    public void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries)
    {
        if (DeliverRemoteReportingFailure(deliveries, NotFromLink) is { } failed)
        {
            throw failed; // after every run was applied: a failed pipeline applies and counts, then reports
        }
    }

    /// <summary>
    /// <see cref="DeliverRemote"/> that returns the pipeline's failure instead of throwing it (every delivery applied and
    /// counted either way): the link's <see cref="Transport.EngineSink"/> takes the frame as done, and the failure is the host's to
    /// see on its own posts and stop. A throw applied nothing, or says how many leading records it applied (the link's
    /// sink contract). Called by the receive thread of <paramref name="linkNode"/>'s link (or with <see cref="NotFromLink"/>),
    /// a peer vCPU's IOAPIC record that finds its ring full may end the call there (<see cref="PostFromLink"/>).
    /// </summary>
    /// <exception cref="Transport.PartlyAppliedException">From a link: a peer vCPU's ring stayed full at a record after
    /// the first; the ones before it were applied, it and the rest not.</exception>
    /// <exception cref="InvalidOperationException">Not started, and a peer vCPU's ring too full for the frame; or from a
    /// link, a peer vCPU's ring stayed full at the first record: nothing was applied.</exception>
    internal EngineFaultedException? DeliverRemoteReportingFailure(ReadOnlySpan<RemoteDelivery> deliveries, int linkNode)
    {
        ThrowIfDisposed();
        int start = 0;
        EngineFaultedException? failed = null;
        for (int i = 0; i < deliveries.Length; i++)
        {
            if ((deliveries[i].IcrLow & RemoteDelivery.IoApicEoiFlag) != 0)
            {
                if (start == 0 && _posting.RefusesWhenFull)
                {
                    ThrowIfPeerRingsLackRoom(deliveries[i..]); // nothing applied yet: runs are applied only from here on
                }

                if (i > start)
                {
                    failed = DeliverRemoteRun(deliveries[start..i]) ?? failed;
                }

                if (!TakeRemoteEoi(deliveries[i], linkNode))
                {
                    ThrowPeerRingFull(deliveries, i);
                }

                start = i + 1;
            }
        }

        if (start < deliveries.Length)
        {
            failed = DeliverRemoteRun(deliveries[start..]) ?? failed;
        }

        return failed;
    }

    /// <summary>The <c>linkNode</c> of <see cref="DeliverRemoteReportingFailure"/> for a host's thread: it waits for room as <see cref="Post"/> does.</summary>
    internal const int NotFromLink = -1;

    /// <summary>One run of <see cref="DeliverRemote"/> between IOAPIC records: applied and counted, then the pipeline's failure if it has one.</summary>
    private EngineFaultedException? DeliverRemoteRun(ReadOnlySpan<RemoteDelivery> run)
    {
        try
        {
            _pipeline.DeliverRemote(run);
            return null;
        }
        catch (EngineFaultedException e)
        {
            return e;
        }
    }

    /// <summary>
    /// An EOI or a redirection entry write another node's vCPU sent to this node's IOAPIC
    /// (<see cref="RemoteDelivery.IoApicEntryFlag"/>): posted as that vCPU's record on its ring here, which no local thread
    /// uses (the vCPU runs on the other node), so the link from that node is the ring's one producer and the IOAPIC is
    /// touched only by the resolve thread. Refused and counted (<see cref="EngineCounters.RemoteRejected"/>) when the source
    /// is not a vCPU of another node or the engine has stopped. Returns false, having taken nothing, when a link's
    /// receive thread gave up waiting for room (<see cref="PostFromLink"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TakeRemoteEoi(in RemoteDelivery eoi, int linkNode)
    {
        int source = (int)eoi.SourceVcpu;
        try
        {
            if (IsPeerVcpu(source))
            {
                bool entryWrite = (eoi.IcrLow & RemoteDelivery.IoApicEntryFlag) != 0;
                var (pin, entry) = entryWrite ? RemoteDelivery.UnpackEntryWrite(eoi) : (0u, 0ul);
                ushort register = entryWrite ? ApicRegister.IoApicEntry : ApicRegister.Eoi;
                ulong value = entryWrite ? entry : (byte)eoi.IcrLow;
                if (linkNode == NotFromLink)
                {
                    Post(source, register, value, pin, eoi.Tag);
                    return true;
                }

                return PostFromLink(source, register, value, pin, eoi.Tag, linkNode);
            }
        }
        catch (EngineStoppedException)
        {
            // Refused like any post after a stop, and counted below.
        }
        catch (EngineFaultedException)
        {
            // Refused like any post after a failure, and counted below: the rest of its frame is still applied
            // (DeliverRemote's contract, which the link's EngineSink relies on).
        }

        lock (_control)
        {
            _controlCounters.Add(CounterSlot.RemoteRejected, 1);
        }

        return true;
    }

    /// <summary>
    /// A peer's IOAPIC record, posted by the receive thread of <paramref name="linkNode"/>'s link: while the ring is full
    /// it waits for room only as long as the engine runs and no forward may be waiting for a peer's window
    /// (<see cref="RemoteForwarder.MayWaitForRoom"/>, looked at on every look); then it gives up, false, having
    /// taken nothing (<see cref="ThrowPeerRingFull"/> says why that is safe).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool PostFromLink(int source, ushort register, ulong value, uint destinationId, ulong tag, int linkNode)
    {
        var spin = new SpinWait();
        while (!PostOne(source, register, value, destinationId, tag, wait: false)) // a try-post: never waits, never assists
        {
            if (Volatile.Read(ref _state) != Running || _options.Forwarder!.MayWaitForRoom(linkNode)) // acquire, each turn: not running, no consumer to count on
            {
                return false;
            }

            spin.SpinOnce();
        }

        return true;
    }

    /// <summary>
    /// A link's receive thread gave up at a peer vCPU's full ring at <paramref name="at"/>: throws so that the link takes
    /// the records before it as applied and has the peer send it and the rest again on its next connection.
    /// </summary>
    /// <remarks>
    /// Why the receive thread must not simply wait, as <see cref="Post"/> does. The ring's consumer is the pipeline, and
    /// the pipeline stops consuming while it waits for room in a peer's outbound window (<see cref="Transport.FullQueuePolicy.Wait"/>;
    /// in per-stage mode the resolve stage waits for the deliver stage that waits so; in fused mode the pipeline thread
    /// waits for a poster that holds its role and waits so): on this node an EOI re-fires a level pin, an entry write
    /// unmasks one, and any vCPU's IPI may go to that peer. Room in peer N's window comes back only with N's
    /// acknowledgements, which only the receive loop of N's link reads. If that loop waited for the ring while the
    /// pipeline waited for N's window, neither would ever move.
    /// Why it never does. (1) It posts with a try-post, which neither waits nor runs the pipeline's pass on this thread
    /// (the pass could forward into that window: <see cref="Stages.FusedPipeline{TNotifier}.TryAssist"/> refuses a
    /// try-post on an engine with a forwarder). (2) While the ring is full, <see cref="PostFromLink"/> looks again only
    /// as long as no forward may be waiting for any peer's window; the transport's forward raises its link's flag when it
    /// starts waiting for room and lowers it when it stops (<see cref="Transport.PeerLink.ForwardWaitsForRoom"/>), so a
    /// pipeline that waits for a window is seen within a look, and the loop gives up and goes back to reading. Any peer,
    /// not only N: with inline socket completions the receive loops of N and of another peer M may share one event
    /// thread, and a loop waiting here would keep M's from reading the acknowledgements that free M's window. So no
    /// wait of a receive loop here is part of a cycle; what is left is a pipeline that waits for a notifier of the
    /// host's, as every poster's wait would.
    /// (<see cref="ThreadingMode.Inline"/> resolves every post on its posting thread, a try-post too: there the receive
    /// thread resolves the record and forwards what it fires itself, and may wait for that window; the mode is for
    /// single-threaded simulators.)
    /// Why nothing is lost or doubled. Records are applied in order, and the ones before <paramref name="at"/> were
    /// applied and counted exactly once (runs by the pipeline's remote path, IOAPIC records by their posts); the one at
    /// <paramref name="at"/> was not posted (a try-post that finds the ring full takes nothing and counts nothing), nor
    /// anything after it. The link's sink contract says so with <see cref="Transport.PartlyAppliedException"/> (a plain
    /// throw when that is none): the link counts the leading ones applied, expects the rest again, and its resend on the
    /// next connection starts exactly there (the resume state of <see cref="Transport.PeerLink"/>), so each is applied once.
    /// Why it moves on. The next connection's handshake acknowledges everything this node applied, which frees the window
    /// the pipeline waited for; its passes then drain the ring, and the resend applies what the ring has room for.
    /// The cost is a reconnect (closed as <see cref="Transport.LinkFault.SinkFailed"/>, so the redial backs off) each time
    /// the cycle could have closed; a ring that is full only because the pipeline is busy is waited for. In a drop engine
    /// (<see cref="BackPressure.Drop"/>) such a record is resent, not dropped: an EOI or entry write lost for good would
    /// leave a pin's remote IRR set or its entry stale. The hot path is untouched: only a peer's IOAPIC records take this way.
    /// </remarks>
    [DoesNotReturn]
    private void ThrowPeerRingFull(ReadOnlySpan<RemoteDelivery> deliveries, int at)
    {
        int source = (int)deliveries[at].SourceVcpu;
        var full = new InvalidOperationException(
            $"vCPU {source}'s ring in the engine '{_options.Name}' is full ({_rings[source].Capacity} records) and its pipeline cannot be waited for (it may wait for this link, or the engine is not running): its IOAPIC records from here on are taken when the peer sends them again.");
        throw at == 0 ? full : new Transport.PartlyAppliedException(at, deliveries.Length, full);
    }

    /// <summary>Whether <paramref name="source"/> is a vCPU of another node (whose IOAPIC records this node posts on its ring).</summary>
    private bool IsPeerVcpu(int source) => (uint)source < (uint)_vcpus && _options.Placement is { } placement && !placement.IsLocal(source);

    /// <summary>
    /// Before the start a full ring refuses a post (nothing would make room): throws that refusal if a peer vCPU's
    /// IOAPIC record among <paramref name="deliveries"/> would meet it, so that the frame is refused before any of it is
    /// applied rather than part way. Quadratic in the IOAPIC records, and only before the start.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowIfPeerRingsLackRoom(ReadOnlySpan<RemoteDelivery> deliveries)
    {
        for (int i = 0; i < deliveries.Length; i++)
        {
            int source = (int)deliveries[i].SourceVcpu;
            if ((deliveries[i].IcrLow & RemoteDelivery.IoApicEoiFlag) == 0 || !IsPeerVcpu(source))
            {
                continue;
            }

            int records = 1; // this one and the earlier ones of its source: its ring takes them all before this one
            for (int j = 0; j < i; j++)
            {
                if ((deliveries[j].IcrLow & RemoteDelivery.IoApicEoiFlag) != 0 && deliveries[j].SourceVcpu == deliveries[i].SourceVcpu)
                {
                    records++;
                }
            }

            _posting.ThrowIfNoRoomBeforeStart(source, records);
        }
    }
}
