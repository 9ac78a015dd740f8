using IpiEngine.Delivery;
using IpiEngine.Native;

namespace IpiEngine.Tests.Native;

/// <summary>
/// Calls the C entry points the way C does: through unmanaged function pointers to the
/// <see cref="System.Runtime.InteropServices.UnmanagedCallersOnlyAttribute"/> methods (a real reverse P/Invoke).
/// </summary>
internal static unsafe class Abi
{
    public static uint AbiVersion() => ((delegate* unmanaged<uint>)&Exports.AbiVersion)();
    public static byte* StrError(int status) => ((delegate* unmanaged<int, byte*>)&Exports.StrError)(status);
    public static int LastError(byte* buffer, uint capacity) => ((delegate* unmanaged<byte*, uint, int>)&Exports.LastErrorMessage)(buffer, capacity);
    public static int Create(NativeConfig* config, ulong* engine) => ((delegate* unmanaged<NativeConfig*, ulong*, int>)&Exports.EngineCreate)(config, engine);
    public static int Start(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.EngineStart)(engine);
    public static int Post(ulong engine, NativeExit* record) => ((delegate* unmanaged<ulong, NativeExit*, int>)&Exports.Post)(engine, record);
    public static int TryPost(ulong engine, NativeExit* record) => ((delegate* unmanaged<ulong, NativeExit*, int>)&Exports.TryPost)(engine, record);
    public static int PostBatch(ulong engine, NativeExit* records, uint count) => ((delegate* unmanaged<ulong, NativeExit*, uint, int>)&Exports.PostBatch)(engine, records, count);
    public static int PostBatchEx(ulong engine, NativeExit* records, uint count, uint* posted)
        => ((delegate* unmanaged<ulong, NativeExit*, uint, uint*, int>)&Exports.PostBatchEx)(engine, records, count, posted);
    public static int TopologyWrite(ulong engine, uint vcpu, uint register, ulong value) => ((delegate* unmanaged<ulong, uint, uint, ulong, int>)&Exports.TopologyWrite)(engine, vcpu, register, value);
    public static int Pending(ulong engine, uint vcpu) => ((delegate* unmanaged<ulong, uint, int>)&Exports.Pending)(engine, vcpu);
    public static int TakePending(ulong engine, uint vcpu, NativePending* pending) => ((delegate* unmanaged<ulong, uint, NativePending*, int>)&Exports.TakePending)(engine, vcpu, pending);
    public static int Descriptor(ulong engine, uint vcpu, IpiEngine.Delivery.PostedInterruptDescriptor** descriptor)
        => ((delegate* unmanaged<ulong, uint, IpiEngine.Delivery.PostedInterruptDescriptor**, int>)&Exports.Descriptor)(engine, vcpu, descriptor);
    public static int VcpuSetRunning(ulong engine, uint vcpu, uint running) => ((delegate* unmanaged<ulong, uint, uint, int>)&Exports.VcpuSetRunning)(engine, vcpu, running);
    public static int Counters(ulong engine, NativeCounters* counters) => ((delegate* unmanaged<ulong, NativeCounters*, int>)&Exports.Counters)(engine, counters);
    public static int Stop(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.EngineStop)(engine);
    public static int Destroy(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.EngineDestroy)(engine);
    public static int NodeCreate(NativeConfig* config, NativeNodeConfig* node, ulong* engine)
        => ((delegate* unmanaged<NativeConfig*, NativeNodeConfig*, ulong*, int>)&Exports.NodeCreate)(config, node, engine);
    public static int NodeLink(ulong engine, uint peer, NativeLink* link) => ((delegate* unmanaged<ulong, uint, NativeLink*, int>)&Exports.NodeLink)(engine, peer, link);
    public static int NodeFaults(ulong engine, NativeNodeFaults* faults) => ((delegate* unmanaged<ulong, NativeNodeFaults*, int>)&Exports.NodeFaults)(engine, faults);
    public static int NodePort(ulong engine, uint* port) => ((delegate* unmanaged<ulong, uint*, int>)&Exports.NodePort)(engine, port);
    public static int NodeSendBatchBegin(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.NodeSendBatchBegin)(engine);
    public static int NodeSendBatchFlush(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.NodeSendBatchFlush)(engine);
    public static int NodeSendBatchEnd(ulong engine) => ((delegate* unmanaged<ulong, int>)&Exports.NodeSendBatchEnd)(engine);
    public static int BenchPostManaged(ulong engine, NativeExit* records, uint count, uint repeat, uint batch)
        => ((delegate* unmanaged<ulong, NativeExit*, uint, uint, uint, int>)&Exports.BenchPostManaged)(engine, records, count, repeat, batch);

    /// <summary>A valid config: x2APIC physical, small rings.</summary>
    public static NativeConfig Config(uint vcpus, uint topology = AbiValues.TopologyX2ApicPhysical) => new()
    {
        StructSize = (uint)sizeof(NativeConfig),
        VcpuCount = vcpus,
        Topology = topology,
        RingCapacity = 64,
    };

    /// <summary>A fixed x2APIC IPI (one WRMSR 0x830) from <paramref name="source"/> to APIC ID <paramref name="destination"/>.</summary>
    public static NativeExit Icr(uint source, uint destination, uint vector, ulong tag = 0) => new()
    {
        SourceVcpu = source,
        Register = 0x830,
        Value = ((ulong)destination << 32) | vector,
        DestinationId = destination,
        Tag = tag,
    };

    /// <summary>Reads the engine's counters through <c>ipi_counters</c> (the full struct), failing the test on a status.</summary>
    public static NativeCounters ReadCounters(ulong engine)
    {
        NativeCounters counters = new() { StructSize = (uint)sizeof(NativeCounters) };
        Xunit.Assert.Equal(Status.Ok, Counters(engine, &counters));
        return counters;
    }

    /// <summary>
    /// A C handle around a managed two-vCPU Inline-mode engine whose kick fails fast, so the pipeline fails at the first
    /// delivery, on the posting (or starting) thread: a failure a C host's own kick cannot cause, since it cannot throw.
    /// </summary>
    public static ulong EngineWhoseKickFails()
    {
        var native = new NativeEngine(new Engine(new EngineOptions
        {
            VcpuCount = 2,
            ThreadingMode = ThreadingMode.Inline,
            NotifierExceptions = NotifierExceptionPolicy.FailFast,
            NotifyCallback = _ => throw new InvalidDataException("kick failed"),
        }), 2);
        Xunit.Assert.True(EngineHandleTable.TryAdd(native));
        return native.Handle;
    }

    /// <summary>Creates an engine or fails the test with the status's sentence.</summary>
    public static ulong CreateOrFail(NativeConfig config)
    {
        ulong handle;
        int status = Create(&config, &handle);
        Xunit.Assert.True(status == Status.Ok, $"create: {Message(status)}");
        return handle;
    }

    /// <summary>The calling thread's last error sentence, read through <c>ipi_last_error</c>.</summary>
    public static string LastErrorText()
    {
        byte* buffer = stackalloc byte[512];
        int length = LastError(buffer, 512);
        return System.Text.Encoding.UTF8.GetString(buffer, Math.Min(length, 511));
    }

    public static string Message(int status) => System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)StrError(status)) ?? "(null)";
}
