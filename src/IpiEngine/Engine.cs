using System.Diagnostics;
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
    private readonly SpscRing<ExitRecord>[] _rings;
    private readonly DoorbellBitmap _doorbell;
    private readonly PostingRings _posting;
    private readonly EventCount _signal = new();
    private readonly WaitStrategy _wait;
    private readonly IcrResolver _resolver;
    private readonly DescriptorTable _descriptors;
    private readonly DeliveryLog? _log;
    private readonly IEnginePipeline _pipeline;
    private readonly IInlinePoster? _inline; // Inline mode: posts resolve and deliver on the posting thread
    private readonly Lock _control = new();
    private readonly StageCounters _controlCounters = new(); // written only under _control
    private readonly long[] _topologySnapshot;
    private readonly bool _stamp;
    private int _state;

    /// <summary>Builds an engine (threads start with <see cref="Start"/>).</summary>
    /// <exception cref="ArgumentException">The options are inconsistent (the message says which and why).</exception>
    public Engine(EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int vcpus = options.Validate();
        _options = options;
        _rings = new SpscRing<ExitRecord>[vcpus];
        for (int i = 0; i < vcpus; i++)
        {
            _rings[i] = new SpscRing<ExitRecord>(options.RingCapacity);
        }

        _doorbell = new DoorbellBitmap(vcpus);
        _wait = WaitStrategy.For(options.WaitStrategy);
        _resolver = new IcrResolver(options.Topology ?? ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical));
        _descriptors = new DescriptorTable(vcpus);
        _log = options.DeliveryLogCapacity > 0 ? new DeliveryLog(options.DeliveryLogCapacity, options.DeliveryLogMode) : null;
        _topologySnapshot = new long[vcpus];
        bool inline = options.ThreadingMode == ThreadingMode.Inline; // no queue: unstamped by default, so its log is deterministic
        _stamp = options.StampPostTime ?? (!inline && (_log is not null || options.Placement is not null || options.Forwarder is not null));
        _posting = new PostingRings(_rings, _doorbell, _signal, _wait, options.BackPressure == BackPressure.Drop, options.Name);
        var parts = new PipelineParts(_rings, _doorbell, _posting, _resolver, _descriptors, _log, options.Placement,
            options.Forwarder, options.LocalTargets, _wait, _signal, options.PipelineRingSize, new NotifierFaults(options.NotifierExceptions, options.NotifierExceptionHandler),
            StampDeliveries: !inline || _stamp);
        _pipeline = CreatePipeline(options, parts);
        _inline = _pipeline as IInlinePoster;
        AttachReplicator();
    }

    /// <summary>The number of vCPUs.</summary>
    public int VcpuCount => _rings.Length;

    /// <summary>The options the engine was built with.</summary>
    public EngineOptions Options => _options;

    /// <summary>The resolver (its <see cref="IcrResolver.Map"/> is the current routing snapshot).</summary>
    public IcrResolver Resolver => _resolver;

    /// <summary>The posted-interrupt descriptors (also reachable by address for native embedders).</summary>
    public DescriptorTable Descriptors => _descriptors;

    /// <summary>The delivery log, when <see cref="EngineOptions.DeliveryLogCapacity"/> asked for one.</summary>
    public DeliveryLog? DeliveryLog => _log;

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
    /// <see cref="EngineCounters.PeerUnreachable"/>.
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
                _options.Forwarder?.OnEngineStopping(); // a peer that takes nothing must not hold the drain forever
                if (wasRunning)
                {
                    _pipeline.StopAndJoin();
                }

                if (_posting.Fault is null)
                {
                    _pipeline.DrainInline(); // the rest, or what was posted before a start that never came
                }
                else
                {
                    _controlCounters.AddRejected(RejectReason.EngineFaulted, _pipeline.UnresolvedAfterFault()); // once: the state leaves Stopping
                }

                Volatile.Write(ref _state, Stopped);
            }
        }
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
    public bool HasPending(int vcpu) => _descriptors.HasPending(vcpu);

    /// <summary>Takes everything pending for the vCPU in one call (clears it), like the PIR-to-IRR sync at VM entry.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a vCPU index.</exception>
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
    public void DeliverRemote(ReadOnlySpan<RemoteDelivery> deliveries)
    {
        ThrowIfDisposed();
        _pipeline.DeliverRemote(deliveries);
    }

    /// <summary>Reads every counter (summed over the threads that own them). Allocation-free.</summary>
    public EngineCounters ReadCounters()
    {
        long posted = _controlCounters.Read(CounterSlot.TopologyWrites) - _controlCounters.Read(CounterSlot.PeerTopologyWrites)
            + _controlCounters.ReadRejected(RejectReason.UnknownSource);
        long dropped = 0;
        foreach (SpscRing<ExitRecord> ring in _rings)
        {
            dropped += ring.DroppedCount;
            posted += ring.PublishedCount;
        }

        posted += dropped;
        var rejected = new RejectCounts();
        Span<long> sums = stackalloc long[(int)CounterSlot.RejectedBase];
        foreach (StageCounters stage in _pipeline.Counters)
        {
            Accumulate(stage, sums, ref rejected);
        }

        Accumulate(_controlCounters, sums, ref rejected);
        rejected[(int)RejectReason.Dropped] += dropped;
        return new EngineCounters(posted, sums[(int)CounterSlot.Latched], sums[(int)CounterSlot.TopologyWrites], sums[(int)CounterSlot.PeerTopologyWrites],
            sums[(int)CounterSlot.IpisResolved], rejected, sums[(int)CounterSlot.DestinationsResolved],
            sums[(int)CounterSlot.NoDestination], sums[(int)CounterSlot.Delivered], sums[(int)CounterSlot.Coalesced],
            sums[(int)CounterSlot.Forwarded], sums[(int)CounterSlot.ServedByHost], sums[(int)CounterSlot.Notifications], sums[(int)CounterSlot.RemoteDelivered],
            sums[(int)CounterSlot.RemoteCoalesced], sums[(int)CounterSlot.RemoteRejected], _log?.Overflowed ?? 0,
            sums[(int)CounterSlot.NotifierFaults], sums[(int)CounterSlot.PeerUnreachable]);
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

    private static unsafe IEnginePipeline CreatePipeline(EngineOptions options, PipelineParts parts)
    {
        if (options.NativeNotifier != null)
        {
            return Create(options.ThreadingMode, parts, new FunctionPointerNotifier(options.NativeNotifier, options.NativeNotifierContext));
        }

        return options.NotifyCallback is { } callback
            ? Create(options.ThreadingMode, parts, new CallbackNotifier(callback))
            : Create(options.ThreadingMode, parts, new NoNotifier());
    }

    private static IEnginePipeline Create<TNotifier>(ThreadingMode mode, PipelineParts parts, TNotifier notifier)
        where TNotifier : struct, IDeliveryNotifier
        => mode switch
        {
            ThreadingMode.Fused => new FusedPipeline<TNotifier>(parts, notifier),
            ThreadingMode.PerStage => new PerStagePipeline<TNotifier>(parts, notifier),
            _ => new InlinePipeline<TNotifier>(parts, notifier),
        };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _state) == Disposed)
        {
            ThrowDisposed();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDisposed() => throw new ObjectDisposedException(nameof(Engine), $"The engine '{_options.Name}' was disposed.");
}
