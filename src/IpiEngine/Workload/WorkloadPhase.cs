
namespace IpiEngine.Workload;

/// <summary>
/// Ready, posting, stopping: what the vCPU drivers are told to do. Drivers wait for the end of <see cref="Ready"/>
/// blocked on an event, not polling: thousands of threads each waking every millisecond kept the cores so busy that
/// starting the remaining threads took minutes.
/// </summary>
internal sealed class WorkloadPhase
{
    /// <summary>Threads started, waiting to post (so thread start-up costs land before the window).</summary>
    public const int Ready = 0;

    /// <summary>Posting.</summary>
    public const int Posting = 1;

    /// <summary>Finish the current batch and end.</summary>
    public const int Stopping = 2;

    private readonly object gate = new(); // a Monitor (drivers wait on it in Ready), not a Lock
    private WorkloadPhaseState state;

    public WorkloadPhase(int drivers) => state.Running = drivers;

    /// <summary>The current phase (acquire: a driver that sees Posting also sees what the controller did before).</summary>
    public int Current => Volatile.Read(ref state.Current);

    /// <summary>Drivers still posting.</summary>
    public int Running => Volatile.Read(ref state.Running);

    /// <summary>IPIs posted by the drivers that finished.</summary>
    public long FinishedIpis => Interlocked.Read(ref state.FinishedIpis);

    /// <summary>Moves every driver to <paramref name="phase"/> (release: pairs with <see cref="Current"/>).</summary>
    public void Set(int phase)
    {
        Volatile.Write(ref state.Current, phase);
        if (phase != Ready)
        {
            lock (gate)
            {
                Monitor.PulseAll(gate); // after the write: a woken driver, or one that checks next, reads the new phase
            }
        }
    }

    /// <summary>Blocks until the phase is no longer <see cref="Ready"/>, then returns it.</summary>
    public int WaitWhileReady()
    {
        lock (gate)
        {
            while (Current == Ready)
            {
                Monitor.Wait(gate); // the check and the wait under the gate: Set's pulse cannot fall between them
            }
        }

        return Current;
    }

    /// <summary>A driver's last act: adds its IPIs, then counts itself out (full fences, so the controller sees both).</summary>
    public void Finished(long ipis)
    {
        Interlocked.Add(ref state.FinishedIpis, ipis);
        Interlocked.Decrement(ref state.Running);
    }
}
