using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
using IpiEngine.Posting;
using IpiEngine.Rings;
using IpiEngine.Stages;

namespace IpiEngine;

/// <summary>
/// The IPI engine: vCPU threads post trapped APIC register writes; the pipeline resolves them per the Intel SDM and
/// delivers the IPIs into per-vCPU posted-interrupt descriptors, notifying each destination; vCPUs take their pending
/// interrupts with <see cref="TakePending"/>.
/// </summary>
/// <remarks>
/// Threading contract: each vCPU's records are posted by one thread at a time (normally the vCPU's own thread); any
/// number of vCPU threads post concurrently (in <see cref="ThreadingMode.Inline"/>, posts are serialised by a lock and
/// each is delivered on its posting thread before it returns). Topology writes, <see cref="Stop"/> and <see cref="DeliverRemote"/> may
/// come from any thread. The notifier may be called from any thread, concurrently (see <see cref="IDeliveryNotifier"/>).
/// Do not post from the notifier. Posting allocates nothing. Every record is accounted for in <see cref="ReadCounters"/>.
/// Life cycle: a post either is taken before <see cref="Stop"/> closes the rings (and is then resolved by its drain) or
/// throws <see cref="EngineStoppedException"/>; after a pipeline failure every post throws
/// <see cref="EngineFaultedException"/> (docs/lifecycle.md).
/// </remarks>
[DebuggerDisplay("{_options.Name}: {State}")]
public sealed partial class Engine : IDisposable
{
    private const int Created = 0;
    private const int Running = 1;
    private const int Stopping = 2;
    private const int Stopped = 3;
    private const int Disposed = 4;

    private readonly EngineOptions _options;
    private readonly int _vcpus;
    private readonly SpscRing<ExitRecord>[] _rings; // one per vCPU, then one per device source
    private readonly DoorbellBitmap _doorbell;
    private readonly PostingRings _posting;
    private readonly EventCount _signal;
    private readonly WaitStrategy _wait;
    private readonly IcrResolver _resolver;
    private readonly DescriptorTable _descriptors;
    private readonly DeliveryLog? _log;
    private readonly PendingWaiters _waiters;
    private readonly IEnginePipeline _pipeline;
    private readonly IInlinePoster? _inline; // Inline mode: posts resolve and deliver on the posting thread
    private readonly Lock _control = new();
    private readonly StageCounters _controlCounters = new(); // written only under _control
    private readonly long[] _topologySnapshot;
    private readonly bool _stamp;
    private readonly bool _postsStraightToRings; // neither stamped nor inline: a post is the rings' fast path alone
    private int _state;

    /// <summary>
    /// Builds an engine (threads start with <see cref="Start"/>) that notifies through the options'
    /// <see cref="EngineOptions.NotifyCallback"/> or <see cref="EngineOptions.NativeNotifier"/>, if any. For a notifier
    /// struct of your own, see <see cref="Create{TNotifier}"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options are inconsistent (the message says which and why).</exception>
    public Engine(EngineOptions options)
        : this(options, CreatePipeline)
    {
    }

    /// <summary>The one constructor: <paramref name="createPipeline"/> picks the notifier type the pipeline is built for.</summary>
    private Engine(EngineOptions options, Func<EngineOptions, PipelineParts, PendingWaiters, IEnginePipeline> createPipeline)
    {
        ArgumentNullException.ThrowIfNull(options);
        int vcpus = options.Validate();
        _options = options;
        _vcpus = vcpus;
        _rings = new SpscRing<ExitRecord>[vcpus + options.DeviceSources]; // the vCPUs', then one per device source
        int ringCapacity = options.EffectiveRingCapacity(vcpus);
        for (int i = 0; i < _rings.Length; i++)
        {
            _rings[i] = new SpscRing<ExitRecord>(ringCapacity);
        }

        _doorbell = new DoorbellBitmap(_rings.Length);
        _signal = new EventCount(options.ParkTimeoutMilliseconds);
        _wait = WaitStrategy.For(options.WaitStrategy);
        int eoiTarget = options.IoApicNode >= 0 && options.Placement!.LocalNode != options.IoApicNode
            ? options.Placement.NodeOfVcpu.IndexOf(options.IoApicNode)
            : -1;
        _resolver = new IcrResolver(options.Topology ?? ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical), options.DeviceSources, eoiTarget);
        _descriptors = new DescriptorTable(vcpus);
        _waiters = new PendingWaiters(_descriptors);
        _log = options.DeliveryLogCapacity > 0 ? new DeliveryLog(options.DeliveryLogCapacity, options.DeliveryLogMode) : null;
        _topologySnapshot = new long[_rings.Length];
        bool inline = options.ThreadingMode == ThreadingMode.Inline; // no queue: unstamped by default, so its log is deterministic
        _stamp = options.StampPostTime ?? (!inline && (_log is not null || options.Placement is not null || options.Forwarder is not null));
        _posting = new PostingRings(_rings, _doorbell, _signal, _wait, options.BackPressure == BackPressure.Drop, options.Name, options.PostTimeSampleInterval);
        var parts = new PipelineParts(_rings, _doorbell, _posting, _resolver, _descriptors, _log, options.Placement,
            options.Forwarder, options.LocalTargets, _wait, _signal, options.PipelineRingSize, new NotifierFaults(options.NotifierExceptions, options.NotifierExceptionHandler),
            StampDeliveries: DeliveryStampingFor(inline, _stamp, options.PostTimeSampleInterval), AssistIdle: options.AssistIdlePipeline && options.ThreadingMode == ThreadingMode.Fused,
            Cpus: options.PipelineCpusPerThread(options.ThreadingMode));
        _pipeline = createPipeline(options, parts, _waiters);
        _inline = _pipeline as IInlinePoster;
        _postsStraightToRings = !_stamp && _inline is null;
        AttachReplicator();
    }

    /// <summary>The number of vCPUs.</summary>
    public int VcpuCount => _vcpus;

    /// <summary>The options the engine was built with.</summary>
    public EngineOptions Options => _options;

    /// <summary>
    /// The resolver (its <see cref="IcrResolver.Map"/> is the current routing snapshot). Internal: calling it beside the
    /// pipeline would skip the topology ordering and race the ICR2 latch.
    /// </summary>
    internal IcrResolver Resolver => _resolver;

    /// <summary>This engine's IOAPIC, for observers on other threads (its <c>Observed*</c> state only: the resolve thread owns it).</summary>
    internal IoApic IoApic => _resolver.IoApic;

    /// <summary>The posted-interrupt descriptors (the C ABI and tests; internal: disposing them under a running engine is a footgun).</summary>
    internal DescriptorTable Descriptors => _descriptors;

    /// <summary>The delivery log, when <see cref="EngineOptions.DeliveryLogCapacity"/> asked for one (internal: see <see cref="ReadDeliveryLog"/>).</summary>
    internal DeliveryLog? DeliveryLog => _log;

    /// <summary>Whether the pipeline threads run (false from the moment the pipeline fails).</summary>
    public bool IsRunning => Volatile.Read(ref _state) == Running && _posting.Fault is null;

    /// <summary>The failure that stopped the pipeline, if any (also the inner exception of <see cref="EngineFaultedException"/>).</summary>
    public Exception? Fault => _posting.Fault;

    private string State => Volatile.Read(ref _state) switch
    {
        _ when _posting.Fault is not null => "faulted",
        Created => "created",
        Running => "running",
        Stopping => "stopping",
        Stopped => "stopped",
        _ => "disposed",
    };

    /// <summary>Starts the pipeline threads. Records posted before are delivered first.</summary>
    /// <exception cref="InvalidOperationException">Already started, or stopped (an engine runs once).</exception>
    public void Start()
    {
        lock (_control)
        {
            ThrowIfDisposed();
            if (_state != Created)
            {
                throw new InvalidOperationException($"The engine is {State}: it can be started once.");
            }

            _pipeline.Start();
            _posting.Start(); // producers with a full ring may wait from now on: a consumer runs
            Volatile.Write(ref _state, Running); // release: readers that see Running see started threads
            EngineMetrics.Register(this);
        }
    }

    /// <summary>
    /// Stops the engine: closes every vCPU's ring (a post racing with the call is either taken before the close or
    /// refused with <see cref="EngineStoppedException"/>), delivers everything taken (drain), and returns when the
    /// pipeline threads have exited. Any thread; a call made while another runs returns when that one has drained.
    /// Idempotent, except that every call reports a pipeline failure.
    /// Deliveries for another node are handed to the forwarder, which bounds how long it waits for a peer whose queue
    /// stays full (<see cref="RemoteForwarder.OnEngineStopping"/>); what it refuses is counted in
    /// <see cref="EngineCounters.PeerUnreachable"/>. If the forwarder's <see cref="RemoteForwarder.OnEngineStopping"/> throws,
    /// the stop still completes (threads joined, rings drained) and that exception then leaves this call, once.
    /// </summary>
    /// <exception cref="EngineFaultedException">The pipeline failed (the inner exception says how); records it never resolved are counted as rejected.</exception>
    public void Stop()
    {
        CloseAndDrain();
        if (_posting.Fault is not null)
        {
            _posting.ThrowClosed();
        }
    }

    /// <summary>Stops (draining) if running, then frees the descriptors and the log. Never throws a pipeline failure (Stop reports it).</summary>
    public void Dispose()
    {
        try
        {
            CloseAndDrain();
        }
        finally
        {
            lock (_control)
            {
                if (_state != Disposed)
                {
                    _posting.MarkDisposed();
                    Volatile.Write(ref _state, Disposed);
                    EngineMetrics.Unregister(this);
                    _descriptors.Dispose();
                    // Full fence: the descriptors' disposed flag's store before AbortAll's reads of the waiter slots. A
                    // first waiter publishes itself (CAS) and then reads that flag: without it each side could miss the
                    // other (store-load), and that waiter would block with no one left to wake it.
                    Interlocked.MemoryBarrier();
                    _waiters.AbortAll(); // after the descriptors: a woken waiter finds them disposed
                    _log?.Dispose();
                }
            }
        }
    }

    /// <summary>Stop's work: close the rings, stop the threads, drain (or count what a fault stranded). Once.</summary>
    private void CloseAndDrain()
    {
        lock (_control)
        {
            if (_state is not (Stopped or Disposed))
            {
                bool wasRunning = _state == Running;
                Volatile.Write(ref _state, Stopping); // release: readers of the state see the stop begin
                _posting.Close(null); // every tail closed: what was published before is drained below, nothing after
                try
                {
                    _options.Forwarder?.OnEngineStopping(); // a peer that takes nothing must not hold the drain forever
                }
                finally
                {
                    // The embedder's notice may throw: the stop completes anyway (joined, drained, Stopped), then its
                    // exception leaves. Left in Stopping, the next call would drain beside the live pipeline thread.
                    JoinAndDrain(wasRunning);
                }
            }
        }
    }

    /// <summary>The rest of <see cref="CloseAndDrain"/>, under <c>_control</c>, the rings closed: the threads, the drain, Stopped.</summary>
    private void JoinAndDrain(bool wasRunning)
    {
        if (wasRunning)
        {
            _pipeline.StopAndJoin();
        }

        if (_posting.Fault is not null)
        {
            _controlCounters.AddRejected(RejectReason.EngineFaulted, _pipeline.UnresolvedAfterFault()); // once: the state leaves Stopping
            _controlCounters.Add(CounterSlot.Undelivered, _pipeline.UndeliveredAfterFault());
        }
        else if (!wasRunning)
        {
            _pipeline.DrainInline(); // what was posted before a start that never came
        }

        // A pipeline that ran drained every ring before its threads exited (the rings were closed first), so the
        // stopping thread runs no pass of its own: in per-stage mode that pass had never run, and its first call
        // was charged ~6 KB on the stopping thread.
        Debug.Assert(_posting.Fault is not null || _posting.Unconsumed() == 0, "A stopped pipeline left records in its rings.");
        _pipeline.SealLog(); // the links still deliver here: the log read after the stop must not change under its reader
        Volatile.Write(ref _state, Stopped); // release: a reader that sees Stopped sees the sealed log's last entries
    }

    /// <summary>
    /// Benchmarks and tests: resolves and delivers everything queued, on the calling thread, while the engine has not
    /// been started (so no pipeline thread runs). Measures the pipeline's per-record cost without a thread hand-off.
    /// </summary>
    /// <exception cref="InvalidOperationException">The engine was started.</exception>
    internal void DrainQueuedInline()
    {
        lock (_control)
        {
            if (_state != Created)
            {
                throw new InvalidOperationException($"The engine is {State}: inline draining is for an engine not started.");
            }

            _pipeline.DrainInline();
        }
    }

    /// <summary>Whether the vCPU has pending interrupts or an outstanding notification.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index.</exception>
    [MethodImpl(HotPath.Optimized)]
    public bool HasPending(int vcpu) => _descriptors.HasPending(vcpu);

    /// <summary>Takes everything pending for the vCPU in one call (clears it), like the PIR-to-IRR sync at VM entry.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index.</exception>
    [MethodImpl(HotPath.Optimized)]
    public PendingInterrupts TakePending(int vcpu) => _descriptors.Take(vcpu);

    /// <summary>
    /// Marks the vCPU running (true) or not (false), VT-x's SN bit in its descriptor: while it runs, deliveries set its
    /// pending bits but call no notifier (it takes by itself, e.g. before each guest entry). Clearing returns true when
    /// something is pending: take it before waiting for a notification, since none will come for it. Any thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index.</exception>
    public bool SetSuppressNotify(int vcpu, bool suppress) => _descriptors.SetSuppressNotify(vcpu, suppress);

    /// <summary>
    /// Applies deliveries forwarded by another node's engine to this node's descriptors: same coalescing, notification
    /// and log rules as local delivery; counted as remote delivered / coalesced; a destination that is not a local
    /// vCPU (or a reserved delivery mode) is counted as remote rejected. Any thread.
    /// </summary>
    /// <remarks>
    /// A peer vCPU's IOAPIC EOI or entry write among the deliveries (on the VM's IOAPIC node) is posted on that vCPU's
    /// ring here, and this call waits while that ring is full, as <see cref="Post"/> does: do not call it from a thread
    /// that the pipeline's forwards wait for, such as the receive loop of a link whose acknowledgements free a peer's
    /// window. The links of <see cref="Transport.NodeTransport"/> never wait there (<see cref="Transport.EngineSink"/>).
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
    /// it waits for room only as long as the engine runs and no forward to that node may be waiting for that node's
    /// window (<see cref="RemoteForwarder.MayWaitForRoom"/>, looked at on every look); then it gives up, false, having
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
    /// as long as no forward to N may be waiting for N's window; the transport's forward raises that flag before its
    /// first look for room and lowers it after its last (<see cref="Transport.PeerLink.ForwardWaitsForRoom"/>), so a
    /// pipeline that waits for N's window is seen within a look, and the loop gives up and goes back to reading. A
    /// pipeline that waits for another peer M's window is freed by M's loop, which reads M's acknowledgements, or, if it
    /// waits in a sink here too, sees that forward and gives up. So no wait of a receive loop here is part of a cycle;
    /// what is left is a pipeline that waits for a notifier of the host's, as every poster's wait would.
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
    [MethodImpl(MethodImplOptions.NoInlining)]
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

    /// <summary>
    /// The delivery log's entries, in delivery order (<see cref="EngineOptions.DeliveryLogCapacity"/>,
    /// <see cref="EngineOptions.DeliveryLogMode"/>): read-only, and only once the engine has stopped, since the pipeline
    /// writes the entries while it runs. Deliveries not kept are counted in <see cref="EngineCounters.LogOverflow"/>, among
    /// them those <see cref="DeliverRemote"/> applies after the stop: the log read then does not change.
    /// </summary>
    /// <exception cref="InvalidOperationException">The engine has no delivery log, or has not stopped yet.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public ReadOnlySpan<DeliveryLogEntry> ReadDeliveryLog()
    {
        ThrowIfDisposed();
        if (_log is null)
        {
            throw new InvalidOperationException($"The engine '{_options.Name}' keeps no delivery log: set EngineOptions.DeliveryLogCapacity.");
        }

        if (Volatile.Read(ref _state) != Stopped) // acquire: Stopped is written after the drain's last append
        {
            throw new InvalidOperationException($"The engine '{_options.Name}' is {State}: read the delivery log once it has stopped.");
        }

        return _log.Entries;
    }

    /// <summary>Reads every counter (summed over the threads that own them). Allocation-free.</summary>
    /// <remarks>
    /// Every count only grows, and a record is counted resolved or rejected only after it left its ring, so the stages
    /// are read from the last back to the first and the rings last: a snapshot never shows more resolved and rejected
    /// than posted (<see cref="EngineCounters.InFlight"/> is never negative), and one with nothing in flight was
    /// settled when its resolve counts were read.
    /// </remarks>
    public EngineCounters ReadCounters()
    {
        var rejected = new RejectCounts();
        Span<long> sums = stackalloc long[(int)CounterSlot.RejectedBase];
        StageCounters[] stages = _pipeline.Counters; // upstream first
        for (int i = stages.Length - 1; i >= 0; i--)
        {
            Accumulate(stages[i], sums, ref rejected);
        }

        // What the control path posted and took itself (local topology writes, unknown sources) counts on both sides of
        // the balance: taken from this one read, a peer write applied between two reads cannot tip it either way.
        long localWrites = sums[(int)CounterSlot.PeerTopologyWrites] - sums[(int)CounterSlot.TopologyWrites];
        long unknownSources = rejected[(int)RejectReason.UnknownSource];
        Accumulate(_controlCounters, sums, ref rejected);
        localWrites += sums[(int)CounterSlot.TopologyWrites] - sums[(int)CounterSlot.PeerTopologyWrites];
        long posted = localWrites + rejected[(int)RejectReason.UnknownSource] - unknownSources;
        long dropped = 0;
        foreach (SpscRing<ExitRecord> ring in _rings)
        {
            dropped += ring.DroppedCount;
            posted += ring.PublishedCount;
        }

        posted += dropped;
        rejected[(int)RejectReason.Dropped] += dropped;
        return new EngineCounters(posted, sums[(int)CounterSlot.Latched], sums[(int)CounterSlot.TopologyWrites], sums[(int)CounterSlot.PeerTopologyWrites],
            sums[(int)CounterSlot.IpisResolved], rejected, sums[(int)CounterSlot.DestinationsResolved],
            sums[(int)CounterSlot.NoDestination], sums[(int)CounterSlot.Delivered], sums[(int)CounterSlot.Coalesced],
            sums[(int)CounterSlot.Forwarded], sums[(int)CounterSlot.ServedByHost], sums[(int)CounterSlot.Notifications], sums[(int)CounterSlot.RemoteDelivered],
            sums[(int)CounterSlot.RemoteCoalesced], sums[(int)CounterSlot.RemoteRejected], (_log?.Overflowed ?? 0) + sums[(int)CounterSlot.LogSkipped],
            sums[(int)CounterSlot.NotifierFaults], sums[(int)CounterSlot.PeerUnreachable], sums[(int)CounterSlot.Undelivered],
            new DeviceInputCounts(sums[(int)CounterSlot.MsisResolved], sums[(int)CounterSlot.MsisRejected],
                sums[(int)CounterSlot.PvIpisResolved], sums[(int)CounterSlot.PvIpisRejected],
                sums[(int)CounterSlot.IoApicResolved], sums[(int)CounterSlot.IoApicRejected], sums[(int)CounterSlot.IoApicStateOnly]),
            sums[(int)CounterSlot.AssistedPasses], sums[(int)CounterSlot.ThinPassWaits]);
    }

    private static void Accumulate(StageCounters stage, Span<long> sums, ref RejectCounts rejected)
    {
        for (int slot = 0; slot < sums.Length; slot++)
        {
            sums[slot] += stage.Read((CounterSlot)slot);
        }

        for (int reason = 0; reason < StageCounters.RejectReasonCount; reason++)
        {
            rejected[reason] += stage.ReadRejected((RejectReason)reason);
        }
    }

    private static unsafe IEnginePipeline CreatePipeline(EngineOptions options, PipelineParts parts, PendingWaiters waiters)
    {
        if (options.NativeNotifier != null)
        {
            return CreatePipeline(options.ThreadingMode, parts, waiters, new FunctionPointerNotifier(options.NativeNotifier, options.NativeNotifierContext));
        }

        return options.NotifyCallback is { } callback
            ? CreatePipeline(options.ThreadingMode, parts, waiters, new CallbackNotifier(callback))
            : CreatePipeline(options.ThreadingMode, parts, waiters, new NoNotifier());
    }

    /// <summary>The pipeline for one notifier type: the engine's waiters are woken first, then <paramref name="notifier"/>.</summary>
    private static IEnginePipeline CreatePipeline<TNotifier>(ThreadingMode mode, PipelineParts parts, PendingWaiters waiters, TNotifier notifier)
        where TNotifier : struct, IDeliveryNotifier
    {
        var engineNotifier = new EngineNotifier<TNotifier>(waiters, notifier);
        return mode switch
        {
            ThreadingMode.Fused => new FusedPipeline<EngineNotifier<TNotifier>>(parts, engineNotifier),
            ThreadingMode.PerStage => new PerStagePipeline<EngineNotifier<TNotifier>>(parts, engineNotifier),
            _ => new InlinePipeline<EngineNotifier<TNotifier>>(parts, engineNotifier),
        };
    }

    /// <summary>Deliver times: none for an unstamped Inline engine; with sampled post stamps only where one is.</summary>
    private static DeliveryStamping DeliveryStampingFor(bool inline, bool stampPosts, int sampleInterval)
        => inline && !stampPosts ? DeliveryStamping.Never
            : stampPosts && sampleInterval > 1 ? DeliveryStamping.WhenPostStamped
            : DeliveryStamping.Always;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _state) == Disposed)
        {
            ThrowDisposed();
        }
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(Engine), $"The engine '{_options.Name}' was disposed.");
}
