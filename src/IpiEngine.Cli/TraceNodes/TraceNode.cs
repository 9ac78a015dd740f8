using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Cli.Run;
using IpiEngine.Delivery;
using IpiEngine.Trace;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// One node of a trace replayed over several nodes: its engine (forwarding to the other nodes), each of its vCPUs'
/// records posted by a thread of its own in trace order, and the topology rows handled as the single-node concurrent
/// replay does (<see cref="ConcurrentTraceReplay"/>): every thread of every node stops at the rows
/// (<see cref="NodeRendezvous"/>), the rows are applied, then all go on. With <see cref="LocalTargets.Kernel"/> a
/// <see cref="KernelStandIn"/> serves the local targets at each write (as KVM does) and takes the other nodes' IPIs
/// as <c>KVM_DSM_IPI</c> records, while the engine forwards only remote targets.
/// </summary>
internal sealed class TraceNode : IDisposable
{
    private readonly TraceNodeSetup _setup;
    private readonly List<TracePhase> _phases;
    private readonly int[] _local;
    private readonly Stopwatch _clock = new();
    private AllocationWindow _allocationsBefore;
    private readonly Dictionary<Injection, long> _expectedInjections = []; // kernel: the KVM_DSM_IPI records the replay sends here

    /// <summary>
    /// Builds the node's engine (forwarding through <paramref name="transport"/>, its topology writes replicated VM-wide
    /// by the transport's <see cref="NodeTransport.Replication"/>), kernel stand-in (if any) and receiving side; nothing runs yet.
    /// </summary>
    /// <exception cref="ArgumentException">The setup does not fit (the message says why).</exception>
    public TraceNode(TraceNodeSetup setup, NodeTransport transport)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(transport);
        _setup = setup;
        _phases = TracePhase.Split(setup.Exits);
        _local = [.. Enumerable.Range(0, setup.Placement.Length).Where(v => setup.Placement[v] == setup.Node)];
        if (_local.Length == 0)
        {
            throw new ArgumentException($"node {setup.Node} holds no vCPU of the trace's {setup.Placement.Length}.");
        }

        long destinations = setup.Sequential.Rows.Sum(r => (long)r.Destinations.Length);
        Engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Reset(setup.ApicIds),
            Placement = new VcpuPlacement(setup.Placement, setup.Node),
            Forwarder = transport,
            Replicator = transport.Replication, // a row posted here is applied on every node, in the VM's one order
            ThreadingMode = setup.Threading,
            AssistIdlePipeline = setup.Assist,
            PipelineCpus = setup.PipelineCpus,
            LocalTargets = setup.LocalTargets,
            StampPostTime = true, // cross-node latency needs the post time in every mode (Inline would not stamp by default)
            // Every delivery the trace has, at most; none when the kernel serves (the engine then delivers nothing).
            DeliveryLogCapacity = setup.LocalTargets == LocalTargets.Kernel ? 0 : (int)Math.Min(1 << 26, destinations + 16),
            Name = $"node{setup.Node}",
        });
        if (setup.LocalTargets == LocalTargets.Kernel)
        {
            Kernel = new KernelStandIn(ApicTopology.Reset(setup.ApicIds), setup.Placement, setup.Node, recordServed: true);
        }

        Arrivals = new TraceArrivals(Kernel is null ? new EngineSink(Engine) : new SourceModeInjectorSink(Kernel, setup.Exits));
        foreach (DeliveryRow row in setup.Sequential.Rows)
        {
            if (setup.Placement[row.SourceVcpu] == setup.Node)
            {
                continue;
            }

            foreach (int destination in row.Destinations)
            {
                if (setup.Placement[destination] == setup.Node)
                {
                    ExpectedArrivals++;
                    if (Kernel is not null)
                    {
                        var expected = Injection.Sent(row, destination, setup.Exits);
                        _expectedInjections[expected] = _expectedInjections.GetValueOrDefault(expected) + 1;
                    }
                }
            }
        }
    }

    /// <summary>The node's engine.</summary>
    public Engine Engine { get; }

    /// <summary>The host kernel's stand-in with <see cref="LocalTargets.Kernel"/>, else null.</summary>
    public KernelStandIn? Kernel { get; }

    /// <summary>The receiving side: give it to the transport (it feeds the engine, or the kernel's injections).</summary>
    public TraceArrivals Arrivals { get; }

    /// <summary>Deliveries the other nodes must forward here (from the sequential replay).</summary>
    public long ExpectedArrivals { get; }

    /// <summary>Whether everything posted here is resolved and everything due here has arrived.</summary>
    public bool Drained => Engine.ReadCounters().InFlight == 0 && Arrivals.Count >= ExpectedArrivals;

    /// <summary>Starts the engine (start the transport first, with <see cref="Arrivals"/>).</summary>
    public void Start()
    {
        Engine.Start();
        _clock.Start();
        _allocationsBefore = AllocationWindow.Now();
    }

    /// <summary>
    /// Posts this node's share of the trace and applies the topology rows at the rendezvous: each local vCPU's records are
    /// posted by one thread, in trace order, on at most <see cref="ConcurrentTraceReplay.MaxPosterThreads"/> threads (the
    /// i-th local vCPU on thread i % threads: a node of thousands of vCPUs neither starts thousands of threads, each
    /// scanning the whole trace, nor passes a Barrier's 32,767 participants). Returns when every local record is posted;
    /// throws <see cref="InvalidOperationException"/> (one sentence) when a thread or a wait failed.
    /// </summary>
    public void Post(NodeRendezvous rendezvous, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rendezvous);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var rowPhases = _phases.Where(p => p.TopologyWrites.Count > 0).ToArray();
        int next = 0;
        Exception? failure = null;
        int posters = Math.Min(_local.Length, ConcurrentTraceReplay.MaxPosterThreads);
        var posterOf = new int[_setup.Placement.Length];
        Array.Fill(posterOf, -1); // not this node's
        for (int i = 0; i < _local.Length; i++)
        {
            posterOf[_local[i]] = i % posters;
        }

        // The post-phase action runs once all posting threads reached the rows, before any is released.
        using var barrier = new Barrier(posters, _ =>
        {
            TracePhase phase = rowPhases[next++];
            rendezvous.Arrive(next, failed.Token); // every node has posted what precedes the rows
            ApplyRows(phase, failed.Token);
        });
        var threads = new Thread[posters];
        for (int i = 0; i < posters; i++)
        {
            int poster = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    PostShare(poster, posterOf, barrier, failed.Token);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e is BarrierPostPhaseException { InnerException: { } inner } ? inner : e, null);
                    failed.Cancel(); // the others stop at their next wait
                }
            }) { IsBackground = true, Name = $"node{_setup.Node}-poster{poster}" };
            threads[i].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw failure is OperationCanceledException && ct.IsCancellationRequested
                ? new OperationCanceledException(ct)
                : new InvalidOperationException($"node {_setup.Node}: {failure.Message}", failure);
        }
    }

    /// <summary>The records of the vCPUs <paramref name="poster"/> owns, in trace order; a wait at each run of rows.</summary>
    private void PostShare(int poster, int[] posterOf, Barrier barrier, CancellationToken ct)
    {
        foreach (TracePhase phase in _phases)
        {
            foreach (ExitRecord r in phase.Records)
            {
                if (posterOf[r.SourceVcpu] == poster)
                {
                    Kernel?.Write(r); // KVM resolves and serves local targets before the exit reaches userspace
                    Engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
                }
            }

            if (phase.TopologyWrites.Count > 0)
            {
                barrier.SignalAndWait(ct);
            }
        }
    }

    /// <summary>
    /// Applies one run of topology rows, in trace order, each before the next: the node of the row's vCPU posts it
    /// (replicated: the call returns once every node applied it); every node waits until its engine's
    /// <see cref="EngineCounters.TopologyWrites"/> (writes applied here, whoever posted them) reaches the row's ordinal.
    /// </summary>
    private void ApplyRows(TracePhase phase, CancellationToken ct)
    {
        int ordinal = phase.TopologyWritesBefore;
        foreach (ExitRecord row in phase.TopologyWrites)
        {
            ordinal++;
            Kernel?.Write(row); // the host kernel's own copy of the topology
            if (_setup.Placement[row.SourceVcpu] == _setup.Node)
            {
                WaitForTopologyWrites(ordinal - 1, ct); // the rows before it are in force VM-wide
                Engine.Post(row.SourceVcpu, row.Register, row.Value, row.DestinationId, row.Tag);
            }

            WaitForTopologyWrites(ordinal, ct); // the row is applied here, whoever posted it
        }
    }

    private void WaitForTopologyWrites(int ordinal, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (Engine.ReadCounters().TopologyWrites < ordinal)
        {
            ct.ThrowIfCancellationRequested();
            if (clock.Elapsed > _setup.Timeout)
            {
                throw new InvalidOperationException(
                    $"topology row {ordinal} of the trace was not applied here within {_setup.Timeout.TotalSeconds:0} s (the engine applied {Engine.ReadCounters().TopologyWrites}).");
            }

            spin.SpinOnce(sleep1Threshold: 30);
        }
    }

    /// <summary>
    /// Stops the engine (call once every node is drained) and returns this node's deliveries, as (seq, destination
    /// vCPU, mode, vector): with the engine serving, its log (local and arrived); with the kernel, what it served plus
    /// what arrived.
    /// </summary>
    public (TraceNodeReport Report, List<NodeDelivery> Deliveries) Finish()
    {
        Engine.Stop();
        double seconds = _clock.Elapsed.TotalSeconds;
        var allocations = AllocationWindow.Between(_allocationsBefore, AllocationWindow.Now());
        EngineCounters c = Engine.ReadCounters();
        RemoteDelivery[] arrived = Arrivals.Arrived;
        var problems = new List<string>();
        var deliveries = new List<NodeDelivery>();
        long misrouted = arrived.LongCount(d => d.DestinationVcpu >= (uint)_setup.Placement.Length || d.SourceVcpu >= (uint)_setup.Placement.Length
            || _setup.Placement[(int)d.DestinationVcpu] != _setup.Node || _setup.Placement[(int)d.SourceVcpu] == _setup.Node);
        if (Kernel is null)
        {
            if (c.LogOverflow > 0)
            {
                problems.Add($"the delivery log overflowed by {c.LogOverflow} entries.");
            }

            foreach (DeliveryLogEntry entry in Engine.DeliveryLog!.Entries)
            {
                deliveries.Add(new NodeDelivery((long)entry.Tag, entry.DestinationVcpu, entry.DeliveryMode, entry.Vector));
            }

            if (c.RemoteDelivered + c.RemoteCoalesced + c.RemoteRejected != arrived.Length || c.RemoteRejected != 0)
            {
                problems.Add($"{arrived.Length} deliveries arrived but the engine took {c.RemoteDelivered + c.RemoteCoalesced} and refused {c.RemoteRejected}.");
            }
        }
        else
        {
            deliveries.AddRange(Kernel.Served);
            deliveries.AddRange(arrived.Select(d => new NodeDelivery((long)d.Tag, (int)d.DestinationVcpu, d.DeliveryMode, d.Vector)));
            CheckInjections(problems);
            if (c.Delivered + c.Coalesced != 0)
            {
                problems.Add($"the engine delivered {c.Delivered + c.Coalesced} local targets that the kernel had served.");
            }
        }

        if (!c.ConservationHolds)
        {
            problems.Add($"the engine's conservation does not hold: {c}.");
        }

        if (misrouted > 0)
        {
            problems.Add($"{misrouted} arrivals named a vCPU that is not here or a source on this node.");
        }

        var report = new TraceNodeReport(_setup.Node, c.Posted, c.IpisResolved + c.Rejected, c.Rejected, c.TopologyWrites, c.Delivered,
            c.Coalesced, c.Forwarded, c.ServedByHost, arrived.Length, c.RemoteDelivered, c.RemoteCoalesced, ExpectedArrivals, Kernel?.Injected ?? 0, misrouted, c.ConservationHolds,
            seconds, Arrivals.LatencyNs(), allocations.AllocatedBytes, allocations.Gen0,
            allocations.Gen1, allocations.Gen2, [.. problems])
        {
            Assist = NodeCommand.AssistReported(Engine),
            AssistedPasses = c.AssistedPasses,
            ThinPassWaits = NodeCommand.ThinPassWaitsReported(Engine, c),
            PipelineCpus = Engine.Options.PipelineCpus,
            RuntimeSettings = Nodes.NodeProcesses.RuntimeSettings(Environment.GetEnvironmentVariable),
        };
        return (report, deliveries);
    }

    /// <summary>
    /// The kernel took, as <c>KVM_DSM_IPI</c> records, exactly what the sequential replay sends this host's vCPUs from
    /// the other nodes: per target, delivery mode and vector (decoded from ICR low), ICR high and destination id as the
    /// source's APIC mode at its write encodes them; nothing else, none for a vCPU elsewhere.
    /// </summary>
    private void CheckInjections(List<string> problems)
    {
        if (Kernel!.Misinjected != 0)
        {
            problems.Add($"{Kernel.Misinjected} KVM_DSM_IPI records named a vCPU that is not on this host.");
        }

        var taken = new Dictionary<Injection, long>();
        foreach (var (record, count) in Kernel.InjectedRecords)
        {
            var injection = Injection.Taken(record);
            taken[injection] = taken.GetValueOrDefault(injection) + count;
        }

        var surplus = taken.Where(t => t.Value > _expectedInjections.GetValueOrDefault(t.Key)).ToArray();
        long wrong = surplus.Sum(t => t.Value - _expectedInjections.GetValueOrDefault(t.Key));
        long missing = _expectedInjections.Sum(e => Math.Max(0, e.Value - taken.GetValueOrDefault(e.Key)));
        if (wrong + missing > 0)
        {
            problems.Add($"the kernel took {wrong} KVM_DSM_IPI records that the sequential replay does not send here"
                + (surplus.Length > 0 ? $" (first: {surplus[0].Key})" : "") + $" and missed {missing} that it sends.");
        }
    }

    /// <summary>
    /// A <c>KVM_DSM_IPI</c> record as the check compares it: the target vCPU, the delivery mode and vector of its ICR
    /// low, its ICR high and destination id as written.
    /// </summary>
    private readonly record struct Injection(int Target, string Mode, byte Vector, uint IcrHigh, uint DestinationId)
    {
        /// <summary>What the kernel was given.</summary>
        public static Injection Taken(IcrInjection record)
            => new((int)record.TargetVcpu, DeliveryRow.ModeName((DeliveryMode)((record.IcrLow >> 8) & 7)), (byte)record.IcrLow, record.IcrHigh, record.DestinationId);

        /// <summary>
        /// What the replay's <paramref name="row"/> sends <paramref name="target"/>: the row's mode and vector, and the
        /// destination field of its firing write (<paramref name="exits"/>, seq ascending) in ICR high as the source's
        /// APIC mode at that write places it (xAPIC: bits 31:24 of ICR2; x2APIC: all 32 bits).
        /// </summary>
        public static Injection Sent(DeliveryRow row, int target, ExitRecord[] exits)
        {
            ExitRecord write = SourceModeInjectorSink.WriteOf(exits, (ulong)row.Seq);
            uint field = write.DestinationId;
            return new(target, row.Mode, row.Vector, SourceModeInjectorSink.IsX2ApicWrite(write) ? field : field << 24, field);
        }

        /// <inheritdoc/>
        public override string ToString()
            => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"vCPU {Target}, {Mode} 0x{Vector:x2}, ICR high 0x{IcrHigh:x}, destination id 0x{DestinationId:x}");
    }

    /// <inheritdoc/>
    public void Dispose() => Engine.Dispose();
}
