using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace IpiEngine.Workload;

/// <summary>
/// One emulated vCPU's loop: posts its pre-generated exits in batches, the way an exit handler queues a few ICR
/// writes, and takes its pending interrupts between batches, the way a vCPU loop syncs the posted-interrupt
/// descriptor at VM entry. Allocation-free; runs on its own thread.
/// </summary>
internal sealed class VcpuDriver
{
    private readonly Engine engine;
    private readonly VcpuScript script;
    private readonly WorkloadPhase phase;
    private readonly int batch;
    private readonly long windowIpis;
    private readonly double ticksPerIpi;
    private readonly double firstDueTicks;
    private readonly LevelPinHandshake? levelPins;
    private long paceStart; // when posting opened (the phase's instant), for a paced run (written once by the thread, before its loop)

    /// <param name="engine">The engine posted to.</param>
    /// <param name="script">This vCPU's records.</param>
    /// <param name="phase">The controller's phase, shared by all drivers.</param>
    /// <param name="batch">Records per post call.</param>
    /// <param name="windowIpis">IPIs to post (long.MaxValue: until told to stop).</param>
    /// <param name="ticksPerIpi">Stopwatch ticks between this vCPU's IPIs (0: unpaced).</param>
    /// <param name="firstDueTicks">When this vCPU's first IPI is due, after posting opens (staggers the vCPUs).</param>
    /// <param name="levelPins">With device threads: the level IOAPIC pins' handshake (this vCPU acks and EOIs the ones it takes).</param>
    public VcpuDriver(Engine engine, VcpuScript script, WorkloadPhase phase, int batch, long windowIpis, double ticksPerIpi, double firstDueTicks, LevelPinHandshake? levelPins = null)
    {
        this.levelPins = levelPins is not null && levelPins.Serves(script.Vcpu) ? levelPins : null;
        this.firstDueTicks = firstDueTicks;
        this.engine = engine;
        this.script = script;
        this.phase = phase;
        this.batch = batch;
        this.windowIpis = windowIpis;
        this.ticksPerIpi = ticksPerIpi;
    }

    /// <summary>IPIs this vCPU posted (read after the thread ends).</summary>
    public long Sent { get; private set; }

    /// <summary>The instant a paced run's schedule counts from (0 unpaced; read after the thread ends).</summary>
    internal long PaceStart => paceStart;

    /// <summary>How often this vCPU found interrupts pending and took them (read after the thread ends).</summary>
    public long Taken { get; private set; }

    /// <summary>The thread body.</summary>
    /// <remarks>
    /// The loop is the guest's side of every IPI, so it is kept small enough for the JIT to hold its state in registers:
    /// the rare work (pacing, the last batch of a counted run, the level pins after posting) is in methods of its own,
    /// and nothing in it is passed by reference.
    /// </remarks>
    [MethodImpl(HotPath.Optimized)]
    public void Run()
    {
        long taken = WaitUntilPosting(out var posting); // locals, written to the fields once at the end: the drivers sit side by side in memory
        if (!posting)
        {
            Taken = taken;
            phase.Finished(0);
            return;
        }

        var vcpu = script.Vcpu;
        var position = 0;
        long sent = 0;
        paceStart = ticksPerIpi > 0 ? phase.OpenedAt : 0;
        while (sent < windowIpis && (phase.Current == WorkloadPhase.Posting || ParkedAndResumed()))
        {
            // Pacing: a batch goes when its last IPI is due, so no more than the rate allows is ever offered.
            if (ticksPerIpi > 0)
            {
                var tookWhilePacing = Pace(vcpu, position, sent);
                if (tookWhilePacing < 0)
                {
                    continue; // paused or stopping: the loop's condition parks or ends
                }

                taken += tookWhilePacing;
            }

            // The batch's place and size are consumed by the post's first loads: nothing of this loop but its own four
            // values (sent, position, vCPU, taken) is live across the post's rare calls.
            var at = position;
            var count = BatchAt(at, sent);
            sent += IpisIn(at, count);
            position += count;
            if (position == script.Records.Length)
            {
                position = 0;
            }

            Post(vcpu, script.Records, at, count);
            taken += TakePending(vcpu);
        }

        Sent = sent;
        phase.Finished(sent);
        if (levelPins is not null)
        {
            taken += TakeUntilDevicesDone(vcpu);
        }

        Taken = taken;
    }

    /// <summary>
    /// The records of the batch from <paramref name="position"/>: at most <see cref="batch"/>, not past the script's end,
    /// and in a counted run's last batch ending right after the firing write that reaches the count. One record fires at
    /// most one IPI, and the loop runs only while <paramref name="sent"/> is short of the count, so it never passes it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int BatchAt(int position, long sent) => batch == 1 ? 1 : LongerBatchAt(position, sent);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int LongerBatchAt(int position, long sent)
    {
        var count = Math.Min(batch, script.Records.Length - position);
        var ipis = IpisIn(position, count);
        return sent + ipis > windowIpis ? script.RecordsForIpisFrom(position, (int)(windowIpis - sent)) : count;
    }

    /// <summary>The IPIs that <paramref name="count"/> records from <paramref name="position"/> fire (from the script's prefix counts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int IpisIn(int position, int count) => script.IpisBefore[position + count] - script.IpisBefore[position];

    /// <summary>Done posting, still a guest: takes the level interrupts the devices raise and EOIs them until they are done.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long TakeUntilDevicesDone(int vcpu)
    {
        long taken = 0;
        while ((levelPins!.DevicesRunning > 0 || levelPins.Owes(vcpu)) && phase.Current != WorkloadPhase.Stopping)
        {
            taken += TakePending(vcpu);
            Thread.Yield();
        }

        return taken;
    }

    /// <summary>
    /// Before a batch, when the phase is no longer <see cref="WorkloadPhase.Posting"/>: when paused, parks until the
    /// controller says post again (true) or stop (false); when stopping, false.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ParkedAndResumed()
    {
        var current = phase.Current;
        if (current == WorkloadPhase.Paused)
        {
            current = phase.ParkWhilePaused();
        }

        return current == WorkloadPhase.Posting; // posting again (even if it paused once more meanwhile: the loop looks first)
    }

    /// <summary>
    /// Blocks until the controller says post (true) or stop (false), parked if it paused first, then takes what arrived
    /// meanwhile (the bring-up).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int WaitUntilPosting(out bool posting)
    {
        var current = phase.WaitWhileReady();
        if (current == WorkloadPhase.Paused)
        {
            current = phase.ParkWhilePaused(); // paused before this thread's first post: it parks too, it does not end
        }

        posting = current == WorkloadPhase.Posting;
        return TakePending(script.Vcpu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Post(int vcpu, ExitRecord[] records, int position, int count)
    {
        if (count == 1)
        {
            ref readonly var r = ref records[position];
            engine.Post(vcpu, r.Register, r.Value, r.DestinationId, r.Tag);
        }
        else if (count > 1)
        {
            engine.PostBatch(vcpu, new ReadOnlySpan<ExitRecord>(records, position, count));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TakePending(int vcpu)
    {
        if (levelPins is not null)
        {
            return TakeAndHandleLevelPins(vcpu);
        }

        if (!engine.HasPending(vcpu))
        {
            return 0;
        }

        engine.TakePending(vcpu);
        return 1;
    }

    /// <summary>Takes what is pending, acks the level pins among it and sends the EOIs that are due (<see cref="LevelPinHandshake"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int TakeAndHandleLevelPins(int vcpu)
    {
        var taken = 0;
        if (engine.HasPending(vcpu))
        {
            levelPins!.Took(vcpu, engine.TakePending(vcpu));
            taken = 1;
        }

        levelPins!.SendEois(vcpu);
        return taken;
    }

    /// <summary>
    /// Offered-load pacing: waits until the last IPI of the batch from <paramref name="position"/> is due, taking
    /// interrupts meanwhile; returns how often it took them, or -1 when told to stop first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Pace(int vcpu, int position, long sent)
    {
        var ipis = IpisIn(position, BatchAt(position, sent));
        if (ipis == 0)
        {
            return 0; // fires nothing (an ICR high write): not paced
        }

        var due = paceStart + (long)(firstDueTicks + ((sent + ipis - 1) * ticksPerIpi));
        var taken = 0;
        while (true)
        {
            if (phase.Current != WorkloadPhase.Posting)
            {
                return -1; // stopping or paused: the loop ends the batch there
            }

            var early = due - Stopwatch.GetTimestamp();
            if (early <= 0)
            {
                return taken;
            }

            taken += TakePending(vcpu);
            if (early > Stopwatch.Frequency / 500)
            {
                Thread.Sleep(1); // more than 2 ms early: give the core to the engine and the other vCPUs
            }
            else
            {
                Thread.Yield();
            }
        }
    }
}
