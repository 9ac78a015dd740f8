using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Delivery;

namespace IpiEngine.Native;

/// <summary>
/// The C entry points (<c>include/ipi_engine.h</c>). Each one catches every exception: one escaping into the host
/// would abort the simulator, so it becomes a status code instead. Handles are looked up, never dereferenced.
/// </summary>
internal static unsafe class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "ipi_abi_version")]
    public static uint AbiVersion() => AbiValues.AbiVersion;

    [UnmanagedCallersOnly(EntryPoint = "ipi_strerror")]
    public static byte* StrError(int status) => StatusMessages.For(status);

    [UnmanagedCallersOnly(EntryPoint = "ipi_last_error")]
    public static int LastErrorMessage(byte* buffer, uint capacity)
    {
        try
        {
            return LastError.CopyTo(buffer, capacity);
        }
        catch (Exception e)
        {
            return Status.FromException(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_engine_create")]
    public static int EngineCreate(NativeConfig* config, ulong* outEngine)
    {
        if (outEngine is null)
            return LastError.NullPointer("out_engine");
        *outEngine = 0;
        if (config is null)
            return LastError.NullPointer("config");
        try
        {
            int status = NativeEngine.TryCreate(config, out NativeEngine? engine);
            return status != Status.Ok ? status : Register(engine!, outEngine);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_engine_start")]
    public static int EngineStart(ulong handle)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.Start() ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_post")]
    public static int Post(ulong handle, NativeExit* record) => PostOne(handle, record, wait: true);

    [UnmanagedCallersOnly(EntryPoint = "ipi_try_post")]
    public static int TryPost(ulong handle, NativeExit* record) => PostOne(handle, record, wait: false);

    [UnmanagedCallersOnly(EntryPoint = "ipi_post_batch")]
    public static int PostBatch(ulong handle, NativeExit* records, uint count)
    {
        int posted = 0;
        return PostBatchCounting(handle, records, count, ref posted);
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_post_batch_ex")]
    public static int PostBatchEx(ulong handle, NativeExit* records, uint count, uint* outPosted)
    {
        if (outPosted is null)
            return LastError.NullPointer("out_posted");
        int posted = 0;
        int status = PostBatchCounting(handle, records, count, ref posted);
        *outPosted = (uint)posted; // also after a failure: the records before it were taken
        return status;
    }

    /// <summary><c>ipi_post_batch</c> and <c>ipi_post_batch_ex</c>: <paramref name="posted"/> counts the leading records taken, whatever the status.</summary>
    private static int PostBatchCounting(ulong handle, NativeExit* records, uint count, ref int posted)
    {
        if (records is null && count != 0)
            return LastError.NullPointer("records");
        try
        {
            NativeEngine? engine = EngineHandleTable.Find(handle);
            if (engine is null)
                return LastError.BadHandle(handle);
            return count > int.MaxValue ? LastError.Set(Status.BadConfig, "count is above 2^31 - 1") : engine.PostBatch(new ReadOnlySpan<NativeExit>(records, (int)count), ref posted);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_topology_write")]
    public static int TopologyWrite(ulong handle, uint vcpu, uint register, ulong value)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.TopologyWrite(vcpu, register, value) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_pending")]
    public static int Pending(ulong handle, uint vcpu)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.HasPending(vcpu) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_take_pending")]
    public static int TakePending(ulong handle, uint vcpu, NativePending* pending)
    {
        if (pending is null)
            return LastError.NullPointer("out");
        try
        {
            return EngineHandleTable.Find(handle)?.TakePending(vcpu, pending) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_descriptor")]
    public static int Descriptor(ulong handle, uint vcpu, PostedInterruptDescriptor** descriptor)
    {
        if (descriptor is null)
            return LastError.NullPointer("out");
        *descriptor = null;
        try
        {
            return EngineHandleTable.Find(handle)?.Descriptor(vcpu, descriptor) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_vcpu_set_running")]
    public static int VcpuSetRunning(ulong handle, uint vcpu, uint running)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.SetRunning(vcpu, running) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_counters")]
    public static int Counters(ulong handle, NativeCounters* counters)
    {
        if (counters is null)
            return LastError.NullPointer("out");
        try
        {
            return EngineHandleTable.Find(handle)?.ReadCounters(counters) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_engine_stop")]
    public static int EngineStop(ulong handle)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.Stop() ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_engine_destroy")]
    public static int EngineDestroy(ulong handle)
    {
        try
        {
            NativeEngine? engine = EngineHandleTable.Remove(handle);
            if (engine is null)
                return LastError.BadHandle(handle);
            try
            {
                engine.Destroy();
            }
            catch (Exception e)
            {
                // The handle is gone whatever failed: not IPI_E_BAD_HANDLE (a disposed link), not IPI_E_NETWORK or
                // IPI_E_STATE, which would read as "try again" on a handle that no longer exists.
                return LastError.Set(Status.Internal, "the engine was freed, but closing it failed: " + e.Message);
            }

            return Status.Ok;
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_create")]
    public static int NodeCreate(NativeConfig* config, NativeNodeConfig* node, ulong* outEngine)
    {
        if (outEngine is null)
            return LastError.NullPointer("out_engine");
        *outEngine = 0;
        if (config is null)
            return LastError.NullPointer("config");
        if (node is null)
            return LastError.NullPointer("node");
        try
        {
            int status = NativeEngine.TryCreateNode(config, node, out NativeEngine? engine);
            return status != Status.Ok ? status : Register(engine!, outEngine);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_link")]
    public static int NodeLink(ulong handle, uint peerNode, NativeLink* link)
    {
        if (link is null)
            return LastError.NullPointer("out");
        try
        {
            return EngineHandleTable.Find(handle)?.ReadLink(peerNode, link) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_faults")]
    public static int NodeFaults(ulong handle, NativeNodeFaults* faults)
    {
        if (faults is null)
            return LastError.NullPointer("out");
        try
        {
            return EngineHandleTable.Find(handle)?.ReadFaults(faults) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_port")]
    public static int NodePort(ulong handle, uint* port)
    {
        if (port is null)
            return LastError.NullPointer("out_port");
        try
        {
            return EngineHandleTable.Find(handle)?.ReadPort(port) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_send_batch_begin")]
    public static int NodeSendBatchBegin(ulong handle)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.SendBatchBegin() ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_send_batch_flush")]
    public static int NodeSendBatchFlush(ulong handle)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.SendBatchFlush(end: false) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_node_send_batch_end")]
    public static int NodeSendBatchEnd(ulong handle)
    {
        try
        {
            return EngineHandleTable.Find(handle)?.SendBatchFlush(end: true) ?? LastError.BadHandle(handle);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    /// <summary>Gives a new engine its handle, or frees it when every slot is taken.</summary>
    private static int Register(NativeEngine engine, ulong* outEngine)
    {
        if (!EngineHandleTable.TryAdd(engine))
        {
            engine.Destroy();
            return LastError.Set(Status.Limit, $"{AbiValues.MaxEngines} engines are alive: destroy one before creating another");
        }
        *outEngine = engine.Handle;
        return Status.Ok;
    }

    [UnmanagedCallersOnly(EntryPoint = "ipi_bench_post_managed")]
    public static int BenchPostManaged(ulong handle, NativeExit* records, uint count, uint repeat, uint batchSize)
    {
        if (records is null && count != 0)
            return LastError.NullPointer("records");
        try
        {
            NativeEngine? engine = EngineHandleTable.Find(handle);
            if (engine is null)
                return LastError.BadHandle(handle);
            return count > int.MaxValue ? LastError.Set(Status.BadConfig, "count is above 2^31 - 1")
                : ManagedPostingLoop.Run(engine, new ReadOnlySpan<NativeExit>(records, (int)count), repeat, batchSize);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PostOne(ulong handle, NativeExit* record, bool wait)
    {
        if (record is null)
            return LastError.NullPointer("record");
        try
        {
            NativeEngine? engine = EngineHandleTable.Find(handle);
            return engine is null ? LastError.BadHandle(handle) : engine.Post(in *record, wait);
        }
        catch (Exception e)
        {
            return LastError.From(e);
        }
    }
}
