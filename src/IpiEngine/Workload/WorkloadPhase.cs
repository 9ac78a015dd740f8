using System.Diagnostics;

namespace IpiEngine.Workload;

/// <summary>
/// Ready, posting, paused, stopping: what the vCPU drivers are told to do. Drivers wait for the end of
/// <see cref="Ready"/> and of <see cref="Paused"/> blocked on an event, not polling: thousands of threads each waking
/// every millisecond kept the cores so busy that starting the remaining threads took minutes.
/// </summary>
internal sealed class WorkloadPhase
{
    /// <summary>Threads started, waiting to post (so thread start-up costs land before the window).</summary>
    public const int Ready = 0;

    /// <summary>Posting.</summary>
    public const int Posting = 1;

    /// <summary>Finish the current batch and end.</summary>
    public const int Stopping = 2;

    /// <summary>Finish the current batch and wait, blocked, until told to post again (or to stop).</summary>
    public const int Paused = 3;

    private readonly object gate = new(); // a Monitor (drivers wait on it in Ready and Paused), not a Lock
    private WorkloadPhaseState state;
    private int parked; // drivers blocked in ParkWhilePaused; read and written under the gate only

    public WorkloadPhase(int drivers) => state.Running = drivers;

    /// <summary>The current phase (acquire: a driver that sees Posting also sees what the controller did before).</summary>
    public int Current => Volatile.Read(ref state.Current);

    /// <summary>Drivers still posting.</summary>
    public int Running => Volatile.Read(ref state.Running);

    /// <summary>IPIs posted by the drivers that finished.</summary>
    public long FinishedIpis => Interlocked.Read(ref state.FinishedIpis);

    /// <summary>
    /// When posting first opened (a <see cref="Stopwatch"/> timestamp; 0 before): the one instant every paced driver's
    /// schedule counts from, so a thread woken late catches up rather than shifting its IPIs (and its stagger) by its wake.
    /// </summary>
    public long OpenedAt => state.OpenedAt; // plain: read by a driver after it saw Posting, whose acquire orders it

    /// <summary>Moves every driver to <paramref name="phase"/> (release: pairs with <see cref="Current"/>).</summary>
    public void Set(int phase)
    {
        if (phase == Posting && state.OpenedAt == 0)
        {
            state.OpenedAt = Stopwatch.GetTimestamp(); // before the release below: a driver that sees Posting sees it
        }

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

    /// <summary>
    /// A driver that saw <see cref="Paused"/> after its batch: counts itself parked, blocks until the phase changes, and
    /// returns the phase that ended the wait (never <see cref="Paused"/>: a pause set again right after is seen by the
    /// driver's next look, before its next batch).
    /// </summary>
    public int ParkWhilePaused()
    {
        int seen;
        lock (gate)
        {
            parked++;
            Monitor.PulseAll(gate); // the controller in WaitUntilParked counts the parked drivers under the gate
            while ((seen = Current) == Paused)
            {
                Monitor.Wait(gate); // checked under the gate: Set's pulse cannot fall between the check and the wait
            }

            parked--;
        }

        return seen;
    }

    /// <summary>
    /// The controller, after <c>Set(Paused)</c>: blocks until every driver still running is parked (a driver that
    /// finished its share instead is no longer running). Nothing is posted from then until the phase changes.
    /// </summary>
    public void WaitUntilParked()
    {
        lock (gate)
        {
            while (parked < Running)
            {
                Monitor.Wait(gate, 1); // a driver that finishes does not pulse: look again every millisecond
            }
        }
    }

    /// <summary>
    /// Blocks until the phase is <see cref="Stopping"/>: a thread whose driver finished its share waits here, blocked,
    /// instead of ending, so that whoever measures the run can still read the thread's CPU time at the window's end.
    /// </summary>
    public void WaitForStop()
    {
        lock (gate)
        {
            while (Current != Stopping)
            {
                Monitor.Wait(gate); // checked under the gate: Set's pulse cannot fall between the check and the wait
            }
        }
    }

    /// <summary>A driver's last act: adds its IPIs, then counts itself out (full fences, so the controller sees both).</summary>
    public void Finished(long ipis)
    {
        Interlocked.Add(ref state.FinishedIpis, ipis);
        Interlocked.Decrement(ref state.Running);
    }
}
