using System.Diagnostics;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Pipeline;
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
/// number of vCPU threads post concurrently. Topology writes may come from any thread. Do not post from the notifier.
/// Posting allocates nothing. Every record is accounted for in <see cref="ReadCounters"/>.
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
    private readonly EventCount _signal = new();
    private readonly WaitStrategy _wait;
    private readonly IcrResolver _resolver;
    private readonly DescriptorTable _descriptors;
    private readonly DeliveryLog? _log;
    private readonly EnginePipeline _pipeline;
    private readonly Lock _control = new();
    private readonly StageCounters _controlCounters = new(); // written only under _control
    private readonly long[] _topologySnapshot;
    private readonly bool _stamp;
    private readonly bool _drop;
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
        _stamp = options.StampPostTime ?? (_log is not null || options.Placement is not null || options.Forwarder is not null);
        _drop = options.BackPressure == BackPressure.Drop;
        var parts = new PipelineParts(_rings, _doorbell, _resolver, _descriptors, _log, options.Placement,
            options.Forwarder, _wait, _signal, options.PipelineRingSize);
        _pipeline = CreatePipeline(options, parts);
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

    /// <summary>Whether the pipeline threads run.</summary>
    public bool IsRunning => Volatile.Read(ref _state) == Running;

    private string State => Volatile.Read(ref _state) switch
    {
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
            Volatile.Write(ref _state, Running); // release: posters that see Running see started threads
            EngineMetrics.Register(this);
        }
    }

    /// <summary>
    /// Stops the engine after delivering everything posted before the call (drain), and returns when the pipeline
    /// threads have exited. Idempotent. Deliveries for another node are handed to the forwarder, which bounds how long
    /// it waits for a peer whose queue stays full (<see cref="RemoteForwarder.OnEngineStopping"/>); what it refuses is
    /// counted in <see cref="EngineCounters.PeerUnreachable"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A pipeline thread failed (the inner exception says how), or a notifier threw.</exception>
    public void Stop()
    {
        lock (_control)
        {
            if (_state is Stopped or Disposed)
            {
                return;
            }

            bool wasRunning = _state == Running;
            Volatile.Write(ref _state, Stopping); // release: posters from now on are refused
            if (wasRunning)
            {
                _options.Forwarder?.OnEngineStopping(); // a peer that takes nothing must not hold the drain forever
                _pipeline.StopAndJoin();
            }

            if (_pipeline.Fault is null)
            {
                _pipeline.DrainInline(); // records that raced with the stop, or posted before a start that never came
            }

            Volatile.Write(ref _state, Stopped);
            _signal.SignalAll(); // producers waiting for room see the stop
        }

        if (_pipeline.Fault is { } fault)
        {
            throw new InvalidOperationException("The engine's pipeline failed: " + fault.Message, fault);
        }
    }

    /// <summary>Stops (draining) if running, then frees the descriptors and the log.</summary>
    public void Dispose()
    {
        try
        {
            Stop();
        }
        finally
        {
            lock (_control)
            {
                if (_state != Disposed)
                {
                    Volatile.Write(ref _state, Disposed);
                    EngineMetrics.Unregister(this);
                    _descriptors.Dispose();
                    _log?.Dispose();
                }
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
        long posted = _controlCounters.Read(CounterSlot.TopologyWrites) + _controlCounters.ReadRejected(RejectReason.UnknownSource);
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
        return new EngineCounters(posted, sums[(int)CounterSlot.Latched], sums[(int)CounterSlot.TopologyWrites],
            sums[(int)CounterSlot.IpisResolved], rejected, sums[(int)CounterSlot.DestinationsResolved],
            sums[(int)CounterSlot.NoDestination], sums[(int)CounterSlot.Delivered], sums[(int)CounterSlot.Coalesced],
            sums[(int)CounterSlot.Forwarded], sums[(int)CounterSlot.Notifications], sums[(int)CounterSlot.RemoteDelivered],
            sums[(int)CounterSlot.RemoteCoalesced], sums[(int)CounterSlot.RemoteRejected], _log?.Overflowed ?? 0,
            sums[(int)CounterSlot.PeerUnreachable]);
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

    private static unsafe EnginePipeline CreatePipeline(EngineOptions options, PipelineParts parts)
    {
        if (options.NativeNotifier != null)
        {
            return Create(options.ThreadingMode, parts, new FunctionPointerNotifier(options.NativeNotifier, options.NativeNotifierContext));
        }

        return options.NotifyCallback is { } callback
            ? Create(options.ThreadingMode, parts, new CallbackNotifier(callback))
            : Create(options.ThreadingMode, parts, new NoNotifier());
    }

    private static EnginePipeline Create<TNotifier>(ThreadingMode mode, PipelineParts parts, TNotifier notifier)
        where TNotifier : struct, IDeliveryNotifier
        => mode == ThreadingMode.Fused
            ? new FusedPipeline<TNotifier>(parts, notifier)
            : new PerStagePipeline<TNotifier>(parts, notifier);

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
