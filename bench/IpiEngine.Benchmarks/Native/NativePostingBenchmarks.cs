using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Native;

namespace IpiEngine.Benchmarks.Native;

/// <summary>
/// Posting through the C ABI's entry points against posting through <see cref="Engine"/> directly, one op = one IPI
/// (x2APIC fixed unicast, vCPU 0 to vCPU 1, fused pipeline draining behind). The export rows call the
/// <c>[UnmanagedCallersOnly]</c> methods through unmanaged function pointers from JIT code, so they pay the boundary
/// transition both ways; the figures from real C code come from <c>examples/c-sim/ipi-bench</c>. Both must allocate 0 B.
/// What the rows can show (review, thirty-ninth session): each invocation posts 4,096 records into vCPU 0's automatic
/// 4,096-record ring without waiting for the drain, so from the second invocation on a post that outruns the pipeline
/// waits for room. The batch rows (1-2 ns of posting per record) are then held to the pipeline's own rate (about 6 ns a
/// record) and show the boundary's cost only where it exceeds that; the one-record rows are closer to their own cost.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Native", SuiteCategories.ZeroAlloc)]
public unsafe class NativePostingBenchmarks
{
    private const int Records = 4096;
    private const int Batch = 64;

    private NativeExit[] _native = [];
    private ExitRecord[] _records = [];
    private ulong _handle;
    private Engine? _engine;

    /// <summary>Creates and starts one engine through the C ABI; the C# rows use the same engine.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _native = new NativeExit[Records];
        _records = new ExitRecord[Records];
        for (int i = 0; i < Records; i++)
        {
            uint vector = 0x20u + (uint)(i % 0xE0);
            _native[i] = new NativeExit { SourceVcpu = 0, Register = 0x830, Value = (1ul << 32) | vector, DestinationId = 1, Tag = (ulong)i };
            _records[i] = ExitRecord.Create(0, 0x830, (1ul << 32) | vector, 1, (ulong)i);
        }
        NativeConfig config = new() { StructSize = (uint)sizeof(NativeConfig), VcpuCount = 2, Topology = AbiValues.TopologyX2ApicPhysical };
        ulong handle;
        Check(((delegate* unmanaged<NativeConfig*, ulong*, int>)&Exports.EngineCreate)(&config, &handle));
        Check(((delegate* unmanaged<ulong, int>)&Exports.EngineStart)(handle));
        _handle = handle;
        _engine = EngineHandleTable.Find(handle)!.Engine;
    }

    /// <summary>Stops (drains) and destroys the engine.</summary>
    [GlobalCleanup]
    public void Cleanup() => Check(((delegate* unmanaged<ulong, int>)&Exports.EngineDestroy)(_handle));

    /// <summary>C# embedder: one <see cref="Engine.Post"/> per IPI.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public void CSharpPost()
    {
        Engine engine = _engine!;
        foreach (ref readonly ExitRecord r in _records.AsSpan())
            engine.Post(r.SourceVcpu, r.Register, r.Value, r.DestinationId, r.Tag);
    }

    /// <summary>C# embedder: <see cref="Engine.PostBatch"/> of 64.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void CSharpPostBatch()
    {
        Engine engine = _engine!;
        ReadOnlySpan<ExitRecord> records = _records;
        for (int i = 0; i < records.Length; i += Batch)
            engine.PostBatch(0, records.Slice(i, Batch));
    }

    /// <summary><c>ipi_post</c>: one boundary crossing per IPI.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void ExportPost()
    {
        var post = (delegate* unmanaged<ulong, NativeExit*, int>)&Exports.Post;
        fixed (NativeExit* records = _native)
        {
            for (int i = 0; i < Records; i++)
                Check(post(_handle, records + i));
        }
    }

    /// <summary><c>ipi_post_batch</c> of 64: one boundary crossing per 64 IPIs.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void ExportPostBatch()
    {
        var postBatch = (delegate* unmanaged<ulong, NativeExit*, uint, int>)&Exports.PostBatch;
        fixed (NativeExit* records = _native)
        {
            for (int i = 0; i < Records; i += Batch)
                Check(postBatch(_handle, records + i, Batch));
        }
    }

    private static void Check(int status)
    {
        if (status != Status.Ok)
            throw new InvalidOperationException("C ABI call failed with status " + status);
    }
}
