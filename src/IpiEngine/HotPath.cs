using System.Runtime.CompilerServices;

namespace IpiEngine;

/// <summary>
/// The one place where the hot path's JIT treatment is decided. Every method an IPI passes through that is not always
/// inlined (posting, gathering, resolving, delivering) carries <c>[MethodImpl(HotPath.Optimized)]</c>, so it is compiled
/// fully optimized at its first call instead of starting unoptimized and waiting for tiered compilation.
/// </summary>
/// <remarks>
/// Why: tiered compilation promotes a method from its unoptimized first version on a background thread, at normal
/// priority. An engine runs where its threads outnumber the cores (vCPU threads on two cores here), and there that thread
/// starves: with 8 vCPU threads and the pipeline on one CPU, seconds into the run the resolver, the batcher and the
/// vCPUs' pending-interrupt checks were still running their unoptimized first versions (perf, 2026-12-05). Marked,
/// the same run (<c>taskset -c 0 ipi run --vcpus 8 --workload unicast</c>) posted 53-55 M IPIs/s one record per call
/// and 94-98 M/s 64 per call, against 24-33 M and 26-38 M unmarked; on two CPUs, near or far, and in the benchmarks,
/// where tiering finishes, nothing moved (docs/performance-log.md). The cost: these methods get no profile-guided
/// optimization, which the engine's struct-generic, devirtualized path hardly needs. A method also marked
/// <c>AggressiveInlining</c> is still inlined where its caller is optimized; this only decides how it is compiled where
/// it is called.
/// </remarks>
internal static class HotPath
{
    /// <summary>Compile at first call with full optimization, bypassing tiered compilation (remarks).</summary>
    public const MethodImplOptions Optimized = MethodImplOptions.AggressiveOptimization;

    /// <summary><see cref="Optimized"/>, for a method that should also be inlined into optimized callers.</summary>
    public const MethodImplOptions Inlined = MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization;
}
