namespace IpiEngine.Cli.Nodes;

/// <summary>
/// The options of one <c>ipi node</c> process. <see cref="SvrWriteEvery"/>: each local vCPU also writes its SVR (a
/// replicated topology write, routing unchanged) before every N-th IPI, 0 never; <see cref="ProgressMs"/>: print a
/// <c>progress</c> line every N ms while posting, 0 never; <see cref="Assist"/>: the engine's
/// <see cref="EngineOptions.AssistIdlePipeline"/> (<c>--assist</c>, fused threading); <see cref="Batch"/>: IPIs each vCPU
/// posts per turn, 1 with <c>Post</c>, more with one <c>PostBatch</c> (<see cref="NodeScript.Post"/>).
/// </summary>
internal sealed record NodeRunArguments(
    string ConfigPath,
    string Topology,
    string Workload,
    int Seed,
    long IpisPerVcpu,
    TimeSpan Duration,
    long Rate,
    TimeSpan Timeout,
    bool Control,
    string Threading,
    int SvrWriteEvery = 0,
    int ProgressMs = 0,
    bool Assist = true,
    int Batch = 1)
{
    /// <summary>The engine's pipeline CPUs (<c>--pipeline-cpus</c>, <see cref="EngineOptions.PipelineCpus"/>); null: the OS places them.</summary>
    public IReadOnlyList<int>? PipelineCpus { get; init; }

    /// <summary>With a rate: the posting thread's pacing step in microseconds (<c>--pace-step-us</c>, <see cref="PacingClock"/>).</summary>
    public int PaceStepMicroseconds { get; init; } = PacingClock.DefaultStepMicroseconds;

    /// <summary>
    /// With a rate: the posting thread holds a send batch of the node's transport and sends the links' frames itself at
    /// each pacing step (<c>--send-batch</c>, <see cref="IpiEngine.Transport.SendBatch"/>); false: the links' send loops
    /// are woken through the thread pool per forward. Ignored without a rate.
    /// </summary>
    public bool SendBatch { get; init; } = true;

    /// <summary>How long the node warms up on a throw-away VM before it is ready (<c>--warmup-ms</c>, <see cref="NodeWarmUp"/>); zero: not at all.</summary>
    public TimeSpan Warmup { get; init; }
}
