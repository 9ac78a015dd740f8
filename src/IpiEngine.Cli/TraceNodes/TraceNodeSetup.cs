using IpiEngine.Trace;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>What one node needs to replay its share of a trace over several nodes.</summary>
/// <param name="Node">This node's id.</param>
/// <param name="Placement">The node of each vCPU (vCPU v on node v % N in <c>ipi run --nodes</c>).</param>
/// <param name="ApicIds">Each vCPU's initial APIC ID (<c>vcpus.csv</c>).</param>
/// <param name="Exits">The whole trace (tag = seq); the node posts its own vCPUs' records and applies the topology rows.</param>
/// <param name="Sequential">The trace replayed sequentially on one resolver: what the node must receive.</param>
/// <param name="Threading">The engine's threading mode.</param>
/// <param name="LocalTargets">Who serves this node's targets: the engine, or the host's kernel (<see cref="KernelStandIn"/>).</param>
/// <param name="Timeout">Bound on each wait (a topology row applied here, the peers at a rendezvous).</param>
/// <param name="Assist">Fused threading: the engine's <see cref="EngineOptions.AssistIdlePipeline"/> (<c>--assist</c>).</param>
internal sealed record TraceNodeSetup(int Node, int[] Placement, uint[] ApicIds, ExitRecord[] Exits, ReplayResult Sequential,
    ThreadingMode Threading, LocalTargets LocalTargets, TimeSpan Timeout, bool Assist = true)
{
    /// <summary>The engine's pipeline CPUs (<c>--pipeline-cpus</c>, <see cref="EngineOptions.PipelineCpus"/>); null: the OS places them.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }
}
