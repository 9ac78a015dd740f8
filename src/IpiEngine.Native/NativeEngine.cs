using System.Runtime.CompilerServices;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Native;

/// <summary>
/// One engine as the C ABI sees it: the <see cref="Engine"/> plus the checks the boundary owes the host (vCPU
/// ranges, life-cycle state) and the translation of the C structs. Every method returns a status; exceptions are
/// left to the export that called it, which catches everything.
/// </summary>
internal sealed unsafe class NativeEngine
{
    private const int Created = 0;
    private const int Running = 1;
    private const int Starting = 2; // ipi_engine_start is under way: posts do not wait yet (the rings may not be started)
    private const int Stopped = 3; // this state and the next refuse every post (one compare on the hot path)
    private const int StartFailed = 4; // the engine's start threw: it never runs (a retry could start a second pipeline)

    /// <summary>Records converted per <see cref="Engine.PostBatch"/> call: 64 x 32 bytes of stack.</summary>
    private const int BatchChunk = 64;

    private readonly Engine _engine;
    private readonly NodeTransport? _transport;
    private readonly RemoteDeliverySink? _arrivals;
    private readonly System.Net.IPEndPoint? _listen;
    private int _state;
    private string? _startFailure; // why the start failed: written before _state becomes StartFailed

    internal NativeEngine(Engine engine, int vcpuCount, NodeTransport? transport = null, RemoteDeliverySink? arrivals = null, System.Net.IPEndPoint? listen = null)
    {
        _engine = engine;
        VcpuCount = vcpuCount;
        _transport = transport;
        _arrivals = arrivals;
        _listen = listen;
    }

    /// <summary>The opaque handle the host holds (set once by <see cref="EngineHandleTable.TryAdd"/>).</summary>
    public ulong Handle { get; set; }

    /// <summary>Number of vCPUs; valid indices are below it.</summary>
    public int VcpuCount { get; }

    /// <summary>The engine itself (the managed-posting benchmark aid drives it directly).</summary>
    public Engine Engine => _engine;

    /// <summary>Builds an engine from a checked config.</summary>
    public static int TryCreate(NativeConfig* config, out NativeEngine? engine)
    {
        engine = null;
        int status = NativeConfigReader.TryRead(config, out EngineOptions? options);
        if (status != Status.Ok)
            return status;
        engine = new NativeEngine(new Engine(options!), options!.VcpuCount);
        return Status.Ok;
    }

    /// <summary>
    /// <c>ipi_node_create</c>: an engine that is one node of a multi-host VM. Built as <c>ipi node</c> builds one: the
    /// transport first (it is the engine's forwarder and topology replicator), then the engine, then where arrivals go
    /// (the host's injector, or this engine's descriptors).
    /// </summary>
    public static int TryCreateNode(NativeConfig* config, NativeNodeConfig* node, out NativeEngine? engine)
    {
        engine = null;
        int status = NativeConfigReader.TryRead(config, out EngineOptions? plain); // checks the engine's fields first
        if (status != Status.Ok)
            return status;
        status = NativeNodeReader.TryRead(node, plain!.VcpuCount, out NativeNodeSetup? setup);
        if (status != Status.Ok)
            return status;
        var transport = new NodeTransport(setup!.Transport);
        Engine? built = null;
        try
        {
            status = NativeConfigReader.TryRead(config, (setup, transport), out EngineOptions? options);
            if (status != Status.Ok)
                return status;
            built = new Engine(options!);
            RemoteDeliverySink arrivals = setup.Injector is { } injector
                ? new InjectorSink(injector, injector.X2ApicRecords)
                : new EngineSink(built);
            engine = new NativeEngine(built, options!.VcpuCount, transport, arrivals, setup.Transport.Listen);
            return Status.Ok;
        }
        finally
        {
            if (engine is null)
            {
                built?.Dispose();
                transport.DisposeAsync().AsTask().GetAwaiter().GetResult(); // never started: closes nothing but its token
            }
        }
    }

    /// <summary>
    /// <c>ipi_engine_start</c>: once, from the created state. A listener that cannot open leaves the engine created (the
    /// host may free the port and retry); a failure of the engine's own start leaves it failed for good.
    /// </summary>
    public int Start()
    {
        // The CAS makes two racing starts see exactly one winner. Running is set only once the engine runs: until then a
        // post that finds its ring full returns IPI_E_WOULD_BLOCK as before start (with Running set first, such a post
        // waited on rings not yet started and got IPI_E_STATE), and a batch is refused with IPI_E_STATE.
        int seen = Interlocked.CompareExchange(ref _state, Starting, Created);
        if (seen != Created)
            return seen is Stopped or StartFailed ? Refused(seen) : LastError.Set(Status.State, "the engine was already started");
        if (_transport is not null)
        {
            try
            {
                _transport.Start(_arrivals!); // as ipi node: arrivals may come before the pipeline runs (they do not use it)
            }
            catch (Exception e)
            {
                // Nothing started: back to created, so the host may fix the port and retry; a compare and swap, so a stop
                // that came meanwhile (any thread may stop) stays stopped.
                Interlocked.CompareExchange(ref _state, Created, Starting);
                if (e is System.Net.Sockets.SocketException)
                    return LastError.Set(Status.Network, $"node {_transport.NodeId} cannot listen on {_listen}: {e.Message}");
                throw;
            }
        }
        try
        {
            _engine.Start();
        }
        catch (InvalidOperationException) when (Volatile.Read(ref _state) == Stopped)
        {
            return Refused(Stopped); // a stop on another thread came first: the engine never ran
        }
        catch (Exception e)
        {
            return FailStart(e);
        }
        // Release: a post that reads Running sees the started rings. A stop that came meanwhile keeps Stopped (it stopped
        // the engine after this start, or before it and the start above refused).
        return Interlocked.CompareExchange(ref _state, Running, Starting) == Starting ? Status.Ok : Refused(Stopped);
    }

    /// <summary>
    /// The engine's start threw (its pipeline failed on the records posted before it, or a thread could not be made):
    /// the engine may be faulted or half started, so it is never started again. From now on a start or a post returns
    /// IPI_E_FAULTED with this failure; stop and destroy work (stop reports a pipeline failure, as always).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int FailStart(Exception failure)
    {
        _startFailure = failure.Message;
        // Full fence: the message is written before the state that makes others read it. A stop that came meanwhile keeps
        // Stopped (posts then say stopped, as after any stop).
        Interlocked.CompareExchange(ref _state, StartFailed, Starting);
        return LastError.Set(Status.Faulted, StartFailedSentence(failure.Message));
    }

    private static string StartFailedSentence(string? failure)
        => $"ipi_engine_start failed ({failure}); the engine cannot run or be started again: stop and destroy it";

    /// <summary><c>ipi_node_link</c>: the link to <paramref name="peer"/>, written up to the caller's struct_size.</summary>
    public int ReadLink(uint peer, NativeLink* link)
    {
        if (_transport is null)
            return NotANode();
        if (link->StructSize < NativeLink.MinimumSize)
            return LastError.Set(Status.StructSize, $"ipi_link_t.struct_size is {link->StructSize}; it must be at least {NativeLink.MinimumSize}");
        foreach (PeerLink candidate in _transport.Links)
        {
            if (candidate.PeerNode != peer)
                continue;
            NativeLink full = NativeLink.From(candidate.Counters);
            full.StructSize = link->StructSize;
            Unsafe.CopyBlockUnaligned(link, &full, Math.Min(link->StructSize, (uint)sizeof(NativeLink)));
            return Status.Ok;
        }
        return LastError.Set(Status.BadConfig, $"node {peer} is not a peer of node {_transport.NodeId}");
    }

    /// <summary><c>ipi_node_faults</c>: the node's fault counts, written up to the caller's struct_size (296 before ABI 1.13).</summary>
    public int ReadFaults(NativeNodeFaults* faults)
    {
        if (_transport is null)
            return NotANode();
        if (faults->StructSize < NativeNodeFaults.MinimumSize)
            return LastError.Set(Status.StructSize, $"ipi_node_faults_t.struct_size is {faults->StructSize}; it must be at least {NativeNodeFaults.MinimumSize}");
        NativeNodeFaults full = default;
        full.StructSize = faults->StructSize;
        foreach (LinkFault fault in Enum.GetValues<LinkFault>())
            full.LinkFaults[(int)fault] = (ulong)_transport.FaultCount(fault);
        foreach (TopologyWriteFailure failure in Enum.GetValues<TopologyWriteFailure>())
            full.TopologyWriteFailures[(int)failure] = (ulong)_transport.Replication.FailureCount(failure);
        full.TopologyWriteFailuresApplied = (ulong)_transport.Replication.FailedButApplied; // like the others, not one atomic snapshot with them
        full.RejectedHandshakes = (ulong)_transport.RejectedHandshakes;
        Unsafe.CopyBlockUnaligned(faults, &full, Math.Min(faults->StructSize, (uint)sizeof(NativeNodeFaults))); // a 1.4 caller's struct ends before the applied count
        return Status.Ok;
    }

    /// <summary><c>ipi_node_port</c>: the listener's port once started.</summary>
    public int ReadPort(uint* port)
    {
        if (_transport is null)
            return NotANode();
        if (Volatile.Read(ref _state) is Created or Starting)
            return LastError.Set(Status.State, "the node listens only once ipi_engine_start has returned IPI_OK");
        try
        {
            *port = (uint)_transport.LocalEndPoint.Port;
        }
        catch (InvalidOperationException)
        {
            return LastError.Set(Status.State, "the node never listened: it was stopped before ipi_engine_start");
        }
        return Status.Ok;
    }

    /// <summary><c>ipi_node_send_batch_begin</c>: opens a send batch of this node on the calling thread (<see cref="SendBatch"/>).</summary>
    public int SendBatchBegin()
    {
        if (_transport is null)
            return NotANode();
        try
        {
            _ = _transport.BeginSendBatch(); // the batch lives in the thread's state; flush and end find it there
            return Status.Ok;
        }
        catch (InvalidOperationException e) // one already open on this thread (this node's or another's): its sentence
        {
            return LastError.Set(Status.State, e.Message);
        }
    }

    /// <summary><c>ipi_node_send_batch_flush</c> and <c>_end</c>: the calling thread's batch of this node sends (and closes).</summary>
    public int SendBatchFlush(bool end)
    {
        if (_transport is null)
            return NotANode();
        if (SendBatch.OpenHere(_transport) is not { } batch)
            return LastError.Set(Status.State, "no send batch of this node is open on this thread (ipi_node_send_batch_begin opens one)");
        if (end)
            batch.Dispose();
        else
            batch.Flush();
        return Status.Ok;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int NotANode() => LastError.Set(Status.State, "the engine is not a node of a multi-host VM (ipi_node_create makes one)");

    /// <summary><c>ipi_post</c> / <c>ipi_try_post</c>: the per-IPI hot path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Post(in NativeExit record, bool wait)
    {
        if (record.SourceVcpu >= (uint)VcpuCount)
            return LastError.VcpuRange(record.SourceVcpu, VcpuCount);
        // Acquire read of the life-cycle state: a post racing with stop is the engine's to settle (it refuses and we
        // map that); this refuses posts after ipi_engine_stop returned or a failed start, and never waits before
        // start, when nothing would ever make room in a full ring.
        int state = Volatile.Read(ref _state);
        if (state >= Stopped)
            return Refused(state);
        if (wait && state == Running)
        {
            _engine.Post((int)record.SourceVcpu, record.Register, record.Value, record.DestinationId, record.Tag);
            return Status.Ok;
        }
        return _engine.TryPost((int)record.SourceVcpu, record.Register, record.Value, record.DestinationId, record.Tag)
            ? Status.Ok
            : WouldBlock();
    }

    /// <summary>A try-post's full ring, with its sentence for <c>ipi_last_error</c> like every other failure (a literal: nothing allocated).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int WouldBlock() => LastError.Set(Status.WouldBlock, "the source vCPU's ring is full: ipi_try_post does not wait");

    /// <summary>
    /// <c>ipi_post_batch</c>: checks every record first (all or nothing), then hands each run of records from one
    /// source vCPU to <see cref="Engine.PostBatch"/>, converted to ring records in stack chunks (no allocation).
    /// <paramref name="posted"/> counts the leading records taken, also when a chunk is refused part way: a topology
    /// write is a chunk of its own, so a refused chunk took just what its source's ring took.
    /// </summary>
    public int PostBatch(ReadOnlySpan<NativeExit> records, ref int posted)
    {
        uint vcpus = (uint)VcpuCount;
        foreach (ref readonly NativeExit record in records)
        {
            if (record.SourceVcpu >= vcpus)
                return LastError.VcpuRange(record.SourceVcpu, VcpuCount);
        }
        if (records.IsEmpty)
            return Status.Ok;
        // Before start a batch could fill the ring half way and then have nowhere to wait: refuse it whole.
        int state = Volatile.Read(ref _state);
        if (state != Running)
            return Refused(state);

        Span<ExitRecord> chunk = stackalloc ExitRecord[BatchChunk];
        int start = 0;
        while (start < records.Length)
        {
            uint source = records[start].SourceVcpu;
            int count = 0;
            while (count < chunk.Length && start + count < records.Length && records[start + count].SourceVcpu == source)
            {
                ref readonly NativeExit r = ref records[start + count];
                var record = ExitRecord.Create((ushort)source, r.Register, r.Value, r.DestinationId, r.Tag);
                bool topology = ApicTopology.IsTopologyRegister(record.Register);
                if (topology && count > 0)
                    break;
                chunk[count++] = record;
                if (topology)
                    break;
            }
            long takenBefore = _engine.RecordsTakenFrom((int)source);
            try
            {
                _engine.PostBatch((int)source, chunk[..count]);
            }
            catch
            {
                posted += (int)(_engine.RecordsTakenFrom((int)source) - takenBefore); // the ring's pieces published (or dropped, counted) before the refusal
                throw;
            }
            posted += count;
            start += count;
        }
        return Status.Ok;
    }

    /// <summary><c>ipi_topology_write</c>: a topology register write, ordered with the IPIs like any posted record.</summary>
    public int TopologyWrite(uint vcpu, uint register, ulong value)
    {
        if (register > ushort.MaxValue || !ApicTopology.IsTopologyRegister((ushort)register))
            return LastError.Set(Status.BadRegister, $"register 0x{register:x} is not a topology register (0x20 APIC ID, 0xD0 LDR, 0xE0 DFR, 0xF0 / 0x80F SVR, 0x1B APIC base)");
        return Post(new NativeExit { SourceVcpu = vcpu, Register = register, Value = value }, wait: true);
    }

    /// <summary><c>ipi_pending</c>: 1, 0, or a negative status.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HasPending(uint vcpu)
    {
        if (vcpu >= (uint)VcpuCount)
            return LastError.VcpuRange(vcpu, VcpuCount);
        return _engine.HasPending((int)vcpu) ? 1 : 0;
    }

    /// <summary><c>ipi_take_pending</c>: 1 if anything was taken into <paramref name="pending"/>, 0 if not.</summary>
    public int TakePending(uint vcpu, NativePending* pending)
    {
        if (vcpu >= (uint)VcpuCount)
            return LastError.VcpuRange(vcpu, VcpuCount);
        PendingInterrupts taken = _engine.TakePending((int)vcpu);
        PendingTranslator.Write(taken, pending);
        return taken.IsEmpty ? 0 : 1;
    }

    /// <summary><c>ipi_descriptor</c>: the vCPU's posted-interrupt descriptor address (fixed for the engine's life).</summary>
    public int Descriptor(uint vcpu, PostedInterruptDescriptor** descriptor)
    {
        if (vcpu >= (uint)VcpuCount)
            return LastError.VcpuRange(vcpu, VcpuCount);
        *descriptor = (PostedInterruptDescriptor*)_engine.Descriptors.AddressOf((int)vcpu);
        return Status.Ok;
    }

    /// <summary><c>ipi_vcpu_set_running</c>: SN set or cleared; 1 if something is pending, else 0.</summary>
    public int SetRunning(uint vcpu, uint running)
    {
        if (vcpu >= (uint)VcpuCount)
            return LastError.VcpuRange(vcpu, VcpuCount);
        return _engine.SetSuppressNotify((int)vcpu, running != 0) ? 1 : 0;
    }

    /// <summary><c>ipi_counters</c>: the snapshot, written up to the caller's struct_size.</summary>
    public int ReadCounters(NativeCounters* counters)
    {
        if (counters->StructSize < NativeCounters.MinimumSize)
            return LastError.Set(Status.StructSize, $"ipi_counters_t.struct_size is {counters->StructSize}; it must be at least {NativeCounters.MinimumSize}");
        CountersTranslator.Write(_engine.ReadCounters(), counters);
        return Status.Ok;
    }

    /// <summary>
    /// <c>ipi_engine_stop</c>: drains and stops; records posted before a start that never came are drained too.
    /// Every call, also a second one racing the first, goes through <see cref="Engine.Stop"/>, which returns only
    /// when the engine is drained (a concurrent call waits for the first) and reports a pipeline failure each time.
    /// </summary>
    public int Stop()
    {
        Volatile.Write(ref _state, Stopped); // release: later posts are refused here; racing ones by the engine's closed rings
        _engine.Stop();
        return Status.Ok;
    }

    /// <summary>A refusal because of the life-cycle <paramref name="state"/>, with the status and sentence that say which.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Refused(int state) => state switch
    {
        Stopped => LastError.Set(Status.Stopped, "the engine was stopped: it accepts no more records"),
        StartFailed => LastError.Set(Status.Faulted, StartFailedSentence(Volatile.Read(ref _startFailure))), // acquire: written before the state
        _ => LastError.Set(Status.State, "ipi_post_batch needs a started engine (before ipi_engine_start nothing could make room in a full ring)"),
    };

    /// <summary>
    /// <c>ipi_engine_destroy</c> after the handle left the table: drain, then free. A pipeline failure is not its result
    /// (the engine is freed all the same): <c>ipi_engine_stop</c> and every post after the failure report it.
    /// </summary>
    public void Destroy()
    {
        try
        {
            Stop();
        }
        catch (EngineFaultedException)
        {
            // Reported by stop and the posts; destroy frees, and says so (IPI_OK).
        }
        finally
        {
            try
            {
                // First the links: no arrival may reach the engine after it is freed.
                _transport?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            finally
            {
                _engine.Dispose();
            }
        }
    }
}
