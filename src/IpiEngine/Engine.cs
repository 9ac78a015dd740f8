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
        Volatile.Write(ref _state, Stopped); // release: a reader that sees Stopped sees the drain's last log entries
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
    /// The delivery log's entries, in delivery order (<see cref="EngineOptions.DeliveryLogCapacity"/>,
    /// <see cref="EngineOptions.DeliveryLogMode"/>): read-only, and only once the engine has stopped, since the pipeline
    /// writes the entries while it runs. Deliveries not kept are counted in <see cref="EngineCounters.LogOverflow"/>. A
    /// stopped engine still applies and logs what its links deliver (<see cref="DeliverRemote"/>): a read shows the
    /// entries written by then, and does not change under its reader when more come.
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
