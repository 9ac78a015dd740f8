using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Interleave;

/// <summary>A case as the worker announces it.</summary>
internal sealed record WorkerCase(string Id, IReadOnlyList<string> Categories, int OperationsPerInvoke);

/// <summary>The worker's first line: its cases, or why it could not load the suite.</summary>
internal sealed record WorkerHello(IReadOnlyList<WorkerCase> Cases, string? Error, int Fillers = 0);

/// <summary>One request to the worker: <c>pilot</c> or <c>block</c> of case <see cref="Case"/>, or <c>quit</c>.</summary>
/// <remarks><see cref="Cpu"/>: the logical CPU to run the case on (both sides get the same one), or -1 for wherever the OS puts it.</remarks>
internal sealed record WorkerRequest(string Op, int Case = 0, double WarmupMs = 0, double IterationMs = 0, int Iterations = 0, long Calls = 0, int Cpu = -1);

/// <summary>The worker's answer to one request.</summary>
internal sealed record WorkerReply(string? Error = null, long Calls = 0, IReadOnlyList<double>? SamplesNs = null, long AllocatedBytesPerOp = 0);

/// <summary>Source-generated JSON for the worker protocol: one compact object per line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkerHello))]
[JsonSerializable(typeof(WorkerRequest))]
[JsonSerializable(typeof(WorkerReply))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;

/// <summary>
/// The process that runs one side's benchmarks for <see cref="InterleavedRunner"/>
/// (<c>ipi perf worker</c>): it loads a built suite assembly into its own load context (so a
/// commit's engine and BenchmarkDotNet versions are its own, not this tool's), announces the cases
/// that match the filters, then answers requests on stdin, one JSON line each, until <c>quit</c> or
/// end of input. Between requests it blocks on stdin and uses no CPU, so the other side's worker
/// measures on a quiet machine.
/// </summary>
/// <remarks>
/// The protocol is the only thing on stdout: whatever a benchmark writes to the console goes to stderr.
/// A request that fails (a benchmark throws) is answered with its error, and the worker goes on.
/// </remarks>
internal static class BenchmarkWorker
{
    /// <summary>Serves requests until quit; returns the process exit code (0, or 2 when the suite cannot be loaded).</summary>
    /// <param name="assemblyPath">The built suite.</param>
    /// <param name="filters">Globs selecting its cases.</param>
    /// <param name="input">Requests, one JSON line each.</param>
    /// <param name="protocol">Answers, one JSON line each.</param>
    /// <param name="layoutSeed">With a value, <see cref="CodeLayout.Shift"/> moves the code and data placement first (both sides of a round get the same seed).</param>
    public static int Serve(string assemblyPath, IReadOnlyList<string> filters, TextReader input, TextWriter protocol, int? layoutSeed = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(protocol);
        IReadOnlyList<BenchmarkCase> cases;
        try
        {
            cases = BenchmarkCase.Discover(Load(assemblyPath), filters);
        }
        catch (Exception e) when (e is PerfInputException or IOException or BadImageFormatException or FileLoadException or UnauthorizedAccessException)
        {
            Write(protocol, new WorkerHello([], e.Message));
            return 2;
        }
        // Before any benchmark method is compiled: everything compiled after lands behind the fillers.
        int fillers = layoutSeed is { } seed ? CodeLayout.Shift(seed) : 0;
        Write(protocol, new WorkerHello(cases.Select(c => new WorkerCase(c.Id, c.Categories, c.OperationsPerInvoke)).ToList(), null, fillers));
        var runners = cases.Select(c => new CaseRunner(c)).ToArray();
        while (input.ReadLine() is { } line)
        {
            var request = JsonSerializer.Deserialize(line, WorkerJsonContext.Default.WorkerRequest);
            if (request is null || request.Op == "quit")
            {
                break;
            }
            Write(protocol, Answer(request, runners));
        }
        return 0;
    }

    /// <summary>Loads a suite assembly with its own dependencies (its deps.json), apart from this tool's.</summary>
    /// <exception cref="PerfInputException">The file does not exist.</exception>
    internal static Assembly Load(string assemblyPath)
    {
        var full = Path.GetFullPath(assemblyPath);
        if (!File.Exists(full))
        {
            throw new PerfInputException($"The suite assembly {full} does not exist; build the suite first.");
        }
        return new SuiteLoadContext(full).LoadFromAssemblyPath(full);
    }

    private static WorkerReply Answer(WorkerRequest request, CaseRunner[] runners)
    {
        if (request.Case < 0 || request.Case >= runners.Length)
        {
            return new WorkerReply($"no case {request.Case} (the worker has {runners.Length})");
        }
        try
        {
            switch (request.Op)
            {
                case "pilot":
                    return new WorkerReply(Calls: runners[request.Case].Pilot(TimeSpan.FromMilliseconds(request.WarmupMs), TimeSpan.FromMilliseconds(request.IterationMs), request.Cpu));
                case "block":
                    var block = runners[request.Case].Block(request.Iterations, request.Calls, request.Cpu);
                    return new WorkerReply(SamplesNs: block.SamplesNs, AllocatedBytesPerOp: block.AllocatedBytesPerOp);
                default:
                    return new WorkerReply($"unknown request '{request.Op}'");
            }
        }
        catch (Exception e)
        {
            // One bad benchmark fails its own case, not the whole run (the other cases still measure).
            return new WorkerReply($"{e.GetType().Name}: {e.Message}");
        }
    }

    private static void Write<T>(TextWriter protocol, T message)
    {
        protocol.WriteLine(JsonSerializer.Serialize(message, typeof(T), WorkerJsonContext.Default));
        protocol.Flush();
    }

    /// <summary>A load context that resolves a suite's assemblies and native libraries from its own folder.</summary>
    private sealed class SuiteLoadContext(string mainAssembly) : AssemblyLoadContext(isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName) =>
            _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
