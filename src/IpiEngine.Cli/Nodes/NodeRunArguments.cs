namespace IpiEngine.Cli.Nodes;

/// <summary>The options of one <c>ipi node</c> process.</summary>
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
    string Threading);
