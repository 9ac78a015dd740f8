
namespace IpiEngine.Workload;

/// <summary>Ready, posting, stopping: what the vCPU drivers are told to do.</summary>
internal sealed class WorkloadPhase
{
    /// <summary>Threads started, waiting to post (so thread start-up costs land before the window).</summary>
    public const int Ready = 0;

    /// <summary>Posting.</summary>
    public const int Posting = 1;

    /// <summary>Finish the current batch and end.</summary>
    public const int Stopping = 2;

    private WorkloadPhaseState state;

    public WorkloadPhase(int drivers) => state.Running = drivers;

    /// <summary>The current phase (acquire: a driver that sees Posting also sees what the controller did before).</summary>
    public int Current => Volatile.Read(ref state.Current);

    /// <summary>Drivers still posting.</summary>
    public int Running => Volatile.Read(ref state.Running);

    /// <summary>IPIs posted by the drivers that finished.</summary>
    public long FinishedIpis => Interlocked.Read(ref state.FinishedIpis);

    /// <summary>Moves every driver to <paramref name="phase"/> (release: pairs with <see cref="Current"/>).</summary>
    public void Set(int phase) => Volatile.Write(ref state.Current, phase);

    /// <summary>A driver's last act: adds its IPIs, then counts itself out (full fences, so the controller sees both).</summary>
    public void Finished(long ipis)
    {
        Interlocked.Add(ref state.FinishedIpis, ipis);
        Interlocked.Decrement(ref state.Running);
    }
}
