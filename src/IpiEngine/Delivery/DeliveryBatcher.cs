using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Delivery;

/// <summary>
/// The batch and deliver stages: groups the resolved deliveries of one available batch per destination (vector bits
/// ORed into a scratch bitmap, flags into a scratch events word), then updates each touched descriptor with at most one atomic
/// OR per non-zero 64-bit word (none when its bits are all pending already), counts coalescing from the ORs' return values (and, within the batch, from the deliveries gathered less the distinct bits they set), and notifies each destination at most
/// once. Destinations on other nodes are collected per node and forwarded once per batch; with
/// <see cref="LocalTargets.Kernel"/>, local destinations are only counted (the host's kernel served them). One thread at a time.
/// A destination's events of one batch (NMI, SMI, INIT, SIPI with its vector) go in with one atomic step, so a take
/// sees an INIT and the SIPI after it together; a vCPU that suppresses notifications (SN) gets its bits but no notifier call.
/// A notifier that throws is handled by the engine's <see cref="NotifierFaults"/> policy, after the batch is counted.
/// A forwarder or a notifier exception handler that throws fails the engine, also after the batch is counted (the
/// deliveries of a forward call that threw are counted undelivered: the forwarder did not say which it took).
/// </summary>
/// <typeparam name="TNotifier">The embedder's notifier (a struct: the call inlines).</typeparam>
internal sealed class DeliveryBatcher<TNotifier> where TNotifier : struct, IDeliveryNotifier
{
    /// <summary>Deliveries gathered before a forced flush (bounds scratch memory and latency within a huge batch).</summary>
    public const int FlushLimit = 4096;

    private readonly DescriptorTable _table;
    private readonly DeliveryLog? _log;
    private readonly StageCounters _counters;
    private readonly bool _injection;
    private readonly DeliveryStamping _stamping; // when the log's entries get a deliver time
    private readonly bool _hostServesLocal;
    private readonly bool _localOnly;       // no nodes, no host serving local vCPUs, no log: every delivery is AddLocal's
    private readonly int[]? _nodeOfVcpu;
    private readonly int _localNode;
    private readonly RemoteForwarder? _forwarder;
    private readonly NotifierFaults _notifierFaults;
    private readonly ulong[] _pir;          // vcpu * 4 + word: vector bits gathered this batch
    private readonly ulong[] _events;      // vcpu: the events word (NMI/SMI/INIT/SIPI+vector) gathered this batch
    private readonly bool[] _touchedMark;
    private readonly int[] _touched;
    private readonly DeliveryLogEntry[]? _logBuffer;
    private readonly RemoteDelivery[][]? _remote;
    private readonly int[]? _remoteCount;
    private TNotifier _notifier;
    private int _touchedCount;
    private int _logCount;                  // local deliveries this batch for the log (entries in _logBuffer unless _logFull)
    private bool _logFull;                  // the First-mode log kept all it can: deliveries are counted, not built
    private int _pending;
    private long _batchCoalesced;           // event flags already gathered this batch (vectors: see Flush)
    private long _batchFlags;               // deliveries of event flags this batch (not vectored)
    private long _batchForwarded;
    private long _batchServedByHost;
    private long _batchNotifierFaults;
    private EngineFaultedException? _failure; // the first failure to throw once the batch is counted

    /// <summary>The deliver timestamp for a flush of <paramref name="entries"/>, by <see cref="DeliveryStamping"/>.</summary>
    [MethodImpl(HotPath.Optimized)]
    private long DeliverTime(ReadOnlySpan<DeliveryLogEntry> entries)
    {
        switch (_stamping)
        {
            case DeliveryStamping.Always:
                return Stopwatch.GetTimestamp();
            case DeliveryStamping.WhenPostStamped:
                foreach (ref readonly DeliveryLogEntry entry in entries)
                {
                    if (entry.PostTimestamp != 0)
                    {
                        return Stopwatch.GetTimestamp();
                    }
                }

                return 0;
            default:
                return 0;
        }
    }

    /// <summary>Creates a batcher; <paramref name="injection"/> marks the one that applies deliveries from other nodes.</summary>
    public DeliveryBatcher(DescriptorTable table, TNotifier notifier, DeliveryLog? log, StageCounters counters,
        VcpuPlacement? placement, RemoteForwarder? forwarder, LocalTargets localTargets, bool injection, NotifierFaults notifierFaults,
        DeliveryStamping stamping)
    {
        _stamping = stamping;
        _notifierFaults = notifierFaults;
        _table = table;
        _notifier = notifier;
        _log = log;
        _counters = counters;
        _injection = injection;
        _hostServesLocal = localTargets == LocalTargets.Kernel && !injection;
        int vcpus = table.VcpuCount;
        _pir = new ulong[vcpus * 4];
        _events = new ulong[vcpus];
        _touchedMark = new bool[vcpus];
        _touched = new int[vcpus];
        _logBuffer = log is null ? null : new DeliveryLogEntry[FlushLimit];
        _localOnly = log is null && !_hostServesLocal && (placement is null || injection);
        if (placement is not null && !injection)
        {
            _nodeOfVcpu = placement.NodeOfVcpu.ToArray();
            _localNode = placement.LocalNode;
            _forwarder = forwarder;
            _remote = new RemoteDelivery[placement.NodeCount][];
            _remoteCount = new int[placement.NodeCount];
            for (int node = 0; node < _remote.Length; node++)
            {
                _remote[node] = node == placement.LocalNode ? [] : new RemoteDelivery[FlushLimit];
            }
        }
    }

    /// <summary>Adds one resolved delivery (destination already validated) to the current batch.</summary>
    [MethodImpl(HotPath.Inlined)]
    public void Add(in RemoteDelivery delivery)
    {
        if (_localOnly)
        {
            AddLocal((int)delivery.DestinationVcpu, delivery.IcrLow);
        }
        else
        {
            AddRouted(delivery);
        }

        CountPending();
    }

    /// <summary>
    /// Adds one delivery of <paramref name="record"/> (the resolve stage's way in, destination already validated): a
    /// batcher that only delivers locally, without a log, reads the destination and ICR low and builds nothing.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public void Add(in ExitRecord record, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
    {
        if (_localOnly)
        {
            AddLocal((int)destinationVcpu, icrLow); // counted with the rest of its run (CountResolved): no buffer to bound
            return;
        }

        AddRouted(record, sourceVcpu, destinationVcpu, icrLow, icrDestination);
        CountPending(); // the routed buffers hold FlushLimit deliveries: counted one by one
    }

    /// <summary>
    /// After a run of the resolve stage: counts the <paramref name="deliveries"/> it added through
    /// <see cref="Add(in ExitRecord, uint, uint, uint, uint)"/> where that did not count them (a local-only batcher, whose
    /// scratch is one bitmap per vCPU and cannot overflow), and flushes a batch grown past <see cref="FlushLimit"/>.
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public void CountResolved(int deliveries)
    {
        if (_localOnly)
        {
            _pending += deliveries;
            if (_pending >= FlushLimit)
            {
                Flush();
            }
        }
    }

    /// <summary>Counts one delivery into the batch; flushes a full one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountPending()
    {
        if (++_pending >= FlushLimit)
        {
            Flush();
        }
    }

    /// <summary>
    /// The resolve stage's delivery for a batcher that routes, as <see cref="AddRouted(in RemoteDelivery)"/> routes, off the
    /// local path: a delivery for another node is written straight into that node's buffer, the others are built here.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private void AddRouted(in ExitRecord record, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
    {
        int node = RemoteNodeOf((int)destinationVcpu);
        if (node >= 0)
        {
            RemoteDelivery.WriteTo(ref NextRemote(node), record.Tag, record.PostTimestamp, sourceVcpu, destinationVcpu, icrLow, icrDestination);
        }
        else
        {
            AddHere(new RemoteDelivery(record.Tag, record.PostTimestamp, sourceVcpu, destinationVcpu, icrLow, icrDestination));
        }
    }

    /// <summary>
    /// A delivery of a batcher with nodes, a host serving local vCPUs, or a log: forwarded, counted as served, or
    /// delivered and logged. Inlined into its caller, already off the local-only path (one call per delivery).
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    private void AddRouted(in RemoteDelivery delivery)
    {
        int node = RemoteNodeOf((int)delivery.DestinationVcpu);
        if (node >= 0)
        {
            AddRemote(delivery, node);
        }
        else
        {
            AddHere(delivery);
        }
    }

    /// <summary>The other node <paramref name="destination"/> lives on, or -1 when it is this node's (or there are no nodes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int RemoteNodeOf(int destination)
        => _nodeOfVcpu is not null && _nodeOfVcpu[destination] is var node && node != _localNode ? node : -1;

    /// <summary>A routed delivery to a vCPU of this node: counted as served by the host, or delivered and logged.</summary>
    [MethodImpl(HotPath.Inlined)]
    private void AddHere(in RemoteDelivery delivery)
    {
        if (_hostServesLocal)
        {
            _batchServedByHost++; // KVM delivered it at the ICR write; delivering again would double it
            return;
        }

        AddLocal((int)delivery.DestinationVcpu, delivery.IcrLow);
        if (_logBuffer is not null)
        {
            if (!_logFull)
            {
                _logBuffer[_logCount] = new DeliveryLogEntry(delivery, 0, _injection);
            }

            _logCount++;
        }
    }

    /// <summary>A delivery to a vCPU of this node: its vector bit (or event flag) into the scratch, its vCPU marked touched.</summary>
    [MethodImpl(HotPath.Inlined)]
    private void AddLocal(int destination, uint low)
    {
        if ((low & 0x600) == 0)
        {
            AddLocalVectored(destination, low);
            return;
        }

        AddFlag(destination, low);
        Touch(destination);
    }

    /// <summary>Whether every delivery is <see cref="AddLocal"/>'s (no nodes, no host serving local vCPUs, no log).</summary>
    public bool LocalOnly => _localOnly;

    /// <summary>
    /// A Fixed (000) or lowest-priority (001) delivery to a vCPU of this node: one IRR-like bit per vector (SDM "Interrupt
    /// Command Register"); a bit already set is a coalesced delivery, which Flush counts from the gathered total. The
    /// resolve stage's fast lane calls it for a <see cref="LocalOnly"/> batcher and counts the run (CountResolved).
    /// </summary>
    [MethodImpl(HotPath.Inlined)]
    public void AddLocalVectored(int destination, uint low)
    {
        Debug.Assert((low & 0x600) == 0, "a vectored delivery mode");
        _pir[(destination << 2) + (int)((low & 0xFF) >> 6)] |= 1UL << (int)low; // C# masks the shift count to 6 bits: the vector's bit within its word
        Touch(destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(int destination)
    {
        if (!_touchedMark[destination])
        {
            _touchedMark[destination] = true;
            _touched[_touchedCount++] = destination;
        }
    }

    /// <summary>Ends the batch: updates descriptors, notifies, writes the log, forwards, publishes the counters.</summary>
    [MethodImpl(HotPath.Optimized)]
    public void Flush()
    {
        if (_pending == 0)
        {
            return;
        }

        // A vector already gathered this batch is coalesced: the vectored deliveries gathered less the distinct bits
        // they set (counted here once per batch rather than tested per delivery in AddLocal).
        long delivered = 0;
        long coalesced = _batchCoalesced + (_pending - _batchForwarded - _batchServedByHost - _batchFlags);
        long notifications = 0;
        for (int i = 0; i < _touchedCount; i++)
        {
            int destination = _touched[i];
            _touchedMark[destination] = false;
            int first = destination << 2;
            for (int w = 0; w < 4; w++)
            {
                ulong bits = _pir[first + w];
                if (bits != 0)
                {
                    _pir[first + w] = 0;
                    coalesced -= BitOperations.PopCount(bits);
                    ulong before = _table.OrVectors(destination, w, bits);
                    delivered += BitOperations.PopCount(bits & ~before);
                    coalesced += BitOperations.PopCount(bits & before);
                }
            }

            ulong events = _events[destination];
            if (events != 0)
            {
                // Every flag (a SIPI with its vector) in one atomic step, after the PIR words and before ON (see
                // DescriptorTable): a take sees all of this batch's flags for the vCPU, or none.
                _events[destination] = 0;
                ulong flags = events & PostedInterruptDescriptor.FlagMask;
                ulong previous = _table.PostEvents(destination, events);
                delivered += BitOperations.PopCount(flags & ~previous);
                coalesced += BitOperations.PopCount(flags & previous);
            }

            if (_table.RaiseNotification(destination)) // false while ON is outstanding or the vCPU suppresses (SN)
            {
                Notify(destination);
                notifications++;
            }
        }

        _touchedCount = 0;
        if (_logCount != 0)
        {
            FlushLog();
        }

        if (_batchForwarded != 0)
        {
            ForwardAll();
        }

        _counters.Add(_injection ? CounterSlot.RemoteDelivered : CounterSlot.Delivered, delivered);
        _counters.Add(_injection ? CounterSlot.RemoteCoalesced : CounterSlot.Coalesced, coalesced);
        _counters.Add(CounterSlot.Notifications, notifications);
        if (_batchServedByHost != 0)
        {
            _counters.Add(CounterSlot.ServedByHost, _batchServedByHost);
            _batchServedByHost = 0;
        }

        if (_batchNotifierFaults != 0)
        {
            _counters.Add(CounterSlot.NotifierFaults, _batchNotifierFaults);
            _batchNotifierFaults = 0;
        }

        _pending = 0;
        _batchCoalesced = 0;
        _batchFlags = 0;
    }

    /// <summary>
    /// Hands this batch's local deliveries to the log, or, once a <see cref="DeliveryLogMode.First"/> log is full, only
    /// counts them (<see cref="CounterSlot.LogSkipped"/>): a full log's append took two atomic adds on a line every
    /// batcher writes, a clock read and an entry built per delivery, for nothing kept.
    /// </summary>
    [MethodImpl(HotPath.Optimized)]
    private void FlushLog()
    {
        if (_logFull)
        {
            _counters.Add(CounterSlot.LogSkipped, _logCount);
        }
        else
        {
            ReadOnlySpan<DeliveryLogEntry> entries = _logBuffer.AsSpan(0, _logCount);
            _log!.Append(entries, DeliverTime(entries));
            _logFull = _log.IsFull;
        }

        _logCount = 0;
    }

    /// <summary>
    /// After a batch is flushed and counted: throws the failure kept meanwhile (a notifier's exception under the
    /// fail-fast policy, or a forwarder's), so that the caller's pipeline thread then fails as for any other exception.
    /// </summary>
    public void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            ThrowFailed(failure);
        }
    }

    [DoesNotReturn] // no NoInlining: the JIT sees the throw when it tries to inline, and treats the call's block as cold
    private static void ThrowFailed(EngineFaultedException failure)
        => throw new EngineFaultedException(failure.Message, failure.InnerException!); // a fresh instance per throw: callers may hold earlier ones

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Notify(int destination)
    {
        try
        {
            _notifier.Notify(destination);
        }
#pragma warning disable CA1031 // the embedder's code: handled by the engine's notifier policy, never lost
        catch (Exception e)
#pragma warning restore CA1031
        {
            NotifierThrew(destination, e);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NotifierThrew(int destination, Exception exception)
    {
        _batchNotifierFaults++;
        if (_notifierFaults.FailFast)
        {
            _failure ??= new EngineFaultedException("The notifier threw and the notifier policy is FailFast: " + exception.Message, exception); // thrown after the batch is counted
            return;
        }

        try
        {
            _notifierFaults.Report(destination, exception);
        }
#pragma warning disable CA1031 // the embedder's handler: kept, then it fails the engine after the batch (ThrowIfFailed)
        catch (Exception e)
#pragma warning restore CA1031
        {
            _failure ??= new EngineFaultedException("The notifier exception handler threw: " + e.Message, e);
        }
    }

    /// <summary>NMI, SMI, INIT, SIPI: one pending flag each, like KVM's pending events (<c>__apic_accept_irq</c>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddFlag(int destination, uint low)
    {
        ref ulong control = ref _events[destination];
        ulong bit = ((low >> 8) & 7) switch
        {
            2 => PostedInterruptDescriptor.SmiPending,  // SMI
            4 => PostedInterruptDescriptor.NmiPending,  // NMI
            5 => PostedInterruptDescriptor.InitPending, // INIT (a de-assert never resolves to a destination)
            6 => PostedInterruptDescriptor.SipiPending, // start-up: the vector is the start page
            _ => 0,
        };
        Debug.Assert(bit != 0, "Reserved delivery modes are rejected before delivery.");
        _batchFlags++;
        if ((control & bit) != 0)
        {
            _batchCoalesced++; // already gathered this batch (a later SIPI still replaces the vector, below)
        }

        control |= bit;
        if (bit == PostedInterruptDescriptor.SipiPending)
        {
            // Latest start-up vector wins, as in KVM (__apic_accept_irq: sipi_vector is overwritten).
            control = (control & ~(0xFFUL << PostedInterruptDescriptor.SipiVectorShift)) | ((ulong)(byte)low << PostedInterruptDescriptor.SipiVectorShift);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private void AddRemote(in RemoteDelivery delivery, int node) => NextRemote(node) = delivery;

    /// <summary>The next slot of <paramref name="node"/>'s forward buffer, counted as forwarded (the caller fills it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref RemoteDelivery NextRemote(int node)
    {
        _batchForwarded++;
        return ref _remote![node][_remoteCount![node]++];
    }

    [MethodImpl(MethodImplOptions.NoInlining | HotPath.Optimized)]
    private void ForwardAll()
    {
        long refused = 0;
        long undelivered = 0;
        for (int node = 0; node < _remote!.Length; node++)
        {
            int count = _remoteCount![node];
            if (count != 0)
            {
                _remoteCount[node] = 0;
                try
                {
                    refused += _forwarder!.Forward(node, _remote[node].AsSpan(0, count));
                }
#pragma warning disable CA1031 // the embedder's code: counted, then it fails the engine after the batch (ThrowIfFailed)
                catch (Exception e)
#pragma warning restore CA1031
                {
                    ForwarderThrew(node, count, e);
                    undelivered += count;
                }
            }
        }

        _counters.Add(CounterSlot.Forwarded, _batchForwarded - refused - undelivered);
        _counters.Add(CounterSlot.PeerUnreachable, refused);
        _batchForwarded = 0;
        if (undelivered != 0)
        {
            _counters.Add(CounterSlot.Undelivered, undelivered);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ForwarderThrew(int node, int count, Exception exception)
        => _failure ??= new EngineFaultedException($"The remote forwarder threw while forwarding {count} deliveries to node {node}: {exception.Message}", exception);
}
