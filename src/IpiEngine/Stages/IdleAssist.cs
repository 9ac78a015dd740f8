using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Rings;

namespace IpiEngine.Stages;

/// <summary>
/// Fused mode's idle assist: the consumer role (the right to read the vCPU rings, resolve and deliver) as one state
/// word, so that a posting thread that finds the pipeline thread parked resolves and delivers its own ring's records
/// itself instead of paying for a futex wake and a context switch. Under load the pipeline thread stays awake, keeps
/// the role, and posts take the unchanged fast path. The whole protocol and its proof are here; the two sides are
/// <see cref="FusedPipeline{TNotifier}.TryAssist"/> (a poster) and <see cref="EnginePipeline{TNotifier}"/>'s run loop
/// and idle condition (the pipeline thread); <see cref="Posting.PostingRings"/> calls the first on its slow path.
/// </summary>
/// <remarks>
/// <para>
/// The word. <c>Awake</c>: the pipeline thread holds the role. <c>ParkedFree</c>: nobody holds it; the pipeline thread
/// is parking or parked. <c>Assisting</c>: a posting thread holds it. Transitions: Awake to ParkedFree by the pipeline
/// thread (a release store, in its idle condition's <c>BeforePark</c>, after <see cref="GatherStage.ReleaseIdleBells"/>);
/// ParkedFree to Awake by the pipeline thread (a compare and swap, spinning while a poster assists) when its wait
/// returns, parked or not, and before any further <c>BeforePark</c> of the same wait; ParkedFree to Assisting by a poster
/// (a compare and swap) and back by the same poster (a release store, in a <c>finally</c>). Only the pipeline thread
/// writes Awake and only a poster writes Assisting, each only from ParkedFree, so at most one thread holds the role.
/// Every pass, every <c>ReleaseIdleBells</c> and the stop's drain run holding it. The pipeline thread starts holding it
/// and exits holding it (after its drain, or after a failure in a pass), so there is no assist before the first park
/// nor after the pipeline thread ended.
/// </para>
/// <para>
/// The poster. Fast path, unchanged: (1) publish (a release store of the ring's tail), (2) a plain read of its doorbell
/// bit; set: done. Slow path, bit clear: (3) a plain read of the word; if ParkedFree, a compare and swap to Assisting.
/// (3') If the word reads Assisting (another poster's pass), look again for a bounded while; once ParkedFree, the
/// swap of (3); still Assisting, or Awake: (6). This is only a delay between (2) and (3), which the proof below allows
/// anyway: whatever the word went through meanwhile, (4) re-reads the bit and drains only what is still in the ring.
/// (4) Won: read its bit again; if set, release and go to (6); otherwise drain its own ring, but only the records
/// published before (4) (a post from the notifier on this thread during the assist rings its bit and is left to the
/// pipeline), resolve, flush the batch, count, release; no bit is set, so no process-wide barrier is ever paid for
/// it, and nobody is signalled, so the pipeline thread stays parked (the only producer that could wait for this ring's
/// room is the poster itself; topology writers poll). (5) Not ParkedFree, or the swap lost: (6) ring the bit and signal exactly
/// as without assist. A try-post on an engine that forwards goes from (2) straight to (6): an assist's flush may wait
/// for a peer's window, and a try-post never waits (skipping the assist is the same as losing the swap).
/// </para>
/// <para>
/// What the role carries. The consumer-owned state: each ring's head and cached tail, the <see cref="ResolveStage"/>
/// with its resolver (ICR2 latches, IOAPIC), the <see cref="Delivery.DeliveryBatcher{TNotifier}"/> (scratch, kept
/// failure), the delivery log's writer side, and the one-writer <see cref="StageCounters"/> of resolve and delivery.
/// Every hand-over is a release (store or compare and swap) read by the next holder's acquiring compare and swap, so
/// the next holder sees all of it. The gather stage's idle bookkeeping (empty visits, bits to clear) is touched only by
/// the pipeline thread, and only while it holds the role.
/// </para>
/// <para>
/// Proof that nothing is lost. Three facts. (F1) While the role is not with the pipeline thread, no doorbell bit is
/// cleared (only the pipeline clears, in a pass or in <c>ReleaseIdleBells</c>), and a bit is set only by its own ring's
/// producer. (F2) An assist never empties a ring whose bit is set: it drains only when its bit reads clear after its
/// compare and swap, which acquires every re-ring the pipeline made before releasing (the bit cannot be set meanwhile
/// except by this thread's own nested post, whose records lie past the assist's limit and stay in the ring). (F3) The
/// pipeline parks only after <c>BeforePark</c> (clear the bits of empty rings, barrier, re-ring any filled meanwhile,
/// release), registering with its barrier (<see cref="Pipeline.EventCount"/>) and a re-check that found no set bit on a
/// non-empty ring. Take a record x that a poster P publishes into ring r. If P's read (2) saw r's bit set, the doorbell
/// argument (<see cref="DoorbellBitmap"/>) shows the bit stays set until a clear whose re-check sees x and re-rings;
/// so r's bit is set while x is unconsumed, and by (F1, F2) nobody but the pipeline consumes x then, so the pipeline's
/// re-check (F3) sees it and does not park (or a pass takes x). If the read saw the bit clear and the swap was not won,
/// P rings and signals as without assist: the event count's argument shows either the signal sees the registration or
/// the re-check sees r's bit, with x still in r (F2). If P won and its bit is clear, P consumes x before it returns. If
/// P won and its bit is set, the pipeline re-rang r before releasing, which it does only when its re-check after the
/// clear found r non-empty: it saw x, or an earlier record of P's published after the clear's look at r (P's read (2)
/// can see the bit clear between that clear and the re-ring). Either way P drains nothing (F2), so x stays in r with
/// r's bit set, and the re-check of (F3) sees a set bit on a non-empty ring.
/// </para>
/// <para>
/// Nothing doubled or reordered: a record is consumed only by the role's holder, which moves the ring's head past it
/// (a release store) before the hand-over, and the next holder starts from that head; a ring is first in, first out
/// and has one consumer at a time, so each source's records are resolved once and in order. (Across sources there is
/// no order to keep, as without assist.)
/// </para>
/// <para>
/// A dense run wakes the pipeline thread. Assisted passes cost a poster a whole pass per post, one record at a time,
/// while the pipeline thread sleeps on the other core; when one thread keeps posting faster than that
/// (<see cref="DenseRunsToWake"/> runs in a row of <see cref="DenseRun"/> of its passes, each within <see cref="DenseRunTime"/>,
/// counted by whoever holds the role, restarted whenever the pipeline thread parks or another thread's pass comes between), the poster that ends the last such run sets the wake request (<see cref="WakeRequested"/>), a word the pipeline
/// thread's idle condition reads, and signals after its release; the posts after it keep assisting until the pipeline
/// thread has taken the role back, so no record waits for the wake-up, and from then on they ring as under load and the
/// pipeline thread batches them while the posters go on posting. For the pipeline thread the request is only a reason
/// for its wait to return, which the protocol allows at any time (a spurious wake-up: it takes the role back, passes,
/// and parks again through <c>BeforePark</c>), so the proof above is untouched. The request is set only by a holder, so
/// the take-back after the wait that follows it always takes the slow path, which clears it; the take-back of
/// <c>BeforePark</c> leaves it standing, so that a request made between the idle condition's look and the park is seen
/// by the re-check after the registration (the wait returns, and the take-back after it clears the request). The signal
/// reaches a parked pipeline by the event count's argument, as a ring's does (the request's store stands for the bit).
/// </para>
/// <para>
/// Stop and faults. The stop closes the rings first, then wakes the pipeline thread, which takes the role back (waiting
/// for an assist in progress) and drains; an assist racing the close drains only records inside the seal. A failure
/// in an assisted pass (a fail-fast notifier, a throwing forwarder) fails the engine as Inline mode's pass does: the
/// batch is counted first, the rings close, the poster gets <see cref="EngineFaultedException"/>, and the role is
/// released in its <c>finally</c>. The notifier now runs on the pipeline thread or on a posting thread that found it
/// parked, never on both at once (docs/lifecycle.md).
/// </para>
/// </remarks>
internal sealed unsafe class IdleAssist
{
    private const long Awake = 0;
    private const long ParkedFree = 1;
    private const long Assisting = 2;
    private const int OtherAssistLooks = 64; // 64 short pauses: bounded, in case the holder was descheduled mid-pass

    /// <summary>Assisted passes in a run that <see cref="EndOfDenseRun"/> times (one clock read per run, at its end).</summary>
    internal const int DenseRun = 64;

    /// <summary>A run of <see cref="DenseRun"/> assisted passes this short is dense (250 ns a pass: posts back to back).</summary>
    internal static readonly TimeSpan DenseRunTime = TimeSpan.FromMicroseconds(16);

    /// <summary>
    /// Dense runs in a row that ask for the pipeline thread: 1,024 passes back to back, about 0.2 ms of a poster's time,
    /// where a wake-up costs 0.05-0.1 ms here. A burst shorter than that (a paced load's) stays with the assist.
    /// </summary>
    internal const int DenseRunsToWake = 16;

    private readonly int _otherAssistLooks;
    private readonly long _denseRunTicks;
    private readonly int _denseRunsToWake;
    private readonly byte[] _storage; // pinned: the role's line lives inside it, at _role
    private readonly RoleLine* _role;   // on a CacheLine.PaddedSize boundary, alone in its pair of lines
    private PaddedLong _wakeRequested; // 1: a dense run asked the pipeline thread to wake and keep the role

    /// <summary>
    /// The role's word and its holder's run counts, declared once: one line, so a holder counts its pass on the line its
    /// swap has just taken. Held in separate fields, the counts cost a closed loop (ping-pong, where the two vCPUs' threads
    /// hold the role in turn) a second line transfer per pass.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct RoleLine
    {
        public long State;     // Awake, ParkedFree or Assisting; Awake (0) at construction: the pipeline thread holds the role
        public long RunEnd;    // the holder's: when the last run ended (Stopwatch ticks), where the current one is timed from
        public int RunPasses;  // the holder's: assisted passes in the current run
        public int DenseRuns;  // the holder's: dense runs in a row
        public int RunThread;  // the holder's: the posting thread whose passes the current runs count
    }

    /// <summary>
    /// A role held by the pipeline thread; <paramref name="otherAssistLooks"/> bounds step (3') and
    /// <paramref name="denseRunTime"/> and <paramref name="denseRunsToWake"/> replace <see cref="DenseRunTime"/> and
    /// <see cref="DenseRunsToWake"/> (tests stretch them).
    /// </summary>
    public IdleAssist(int otherAssistLooks = OtherAssistLooks, TimeSpan? denseRunTime = null, int denseRunsToWake = DenseRunsToWake)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(denseRunsToWake, 1);
        _otherAssistLooks = otherAssistLooks;
        _role = (RoleLine*)CacheLine.AllocatePinnedAligned(CacheLine.PaddedSize, CacheLine.PaddedSize, out _storage); // zeroed: Awake, no run; the pair of lines is ours alone
        _denseRunsToWake = denseRunsToWake;
        TimeSpan dense = denseRunTime ?? DenseRunTime;
        _denseRunTicks = dense == TimeSpan.MaxValue ? long.MaxValue : (long)(dense.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>The address of the role's line (alignment checks).</summary>
    internal nint RoleLineAddress => (nint)_role;

    /// <summary>Whether a dense run of assisted passes asked the pipeline thread to wake (its idle condition reads it).</summary>
    public bool WakeRequested => Volatile.Read(ref _wakeRequested.Value) != 0; // a snapshot: the take-back acquires what it needs

    /// <summary>Pipeline thread, right before it parks (after releasing its idle bells): lets posters assist.</summary>
    public void Release()
    {
        _role->RunPasses = 0; // holder state, on the line the store below hands over: the posters' first run starts with their first pass
        _role->DenseRuns = 0;
        Volatile.Write(ref _role->State, ParkedFree); // release: a poster whose swap reads it sees the bells and the consumer-owned state
    }

    /// <summary>
    /// Poster, holding the role, after its pass: counts the pass into the current run and, when
    /// <see cref="DenseRunsToWake"/> runs in a row of <see cref="DenseRun"/> passes each took no longer than the dense
    /// time, sets the wake request. True: the caller signals the pipeline thread once it has released the role.
    /// </summary>
    public bool EndOfDenseRun()
    {
        RoleLine* role = _role; // the line this holder's swap took: counting here moves no other line
        int thread = Environment.CurrentManagedThreadId;
        if (thread != role->RunThread)
        {
            // Runs count one thread's passes: a closed loop (two threads answering each other, each pass by the other
            // thread) is as dense near but needs no pipeline thread, and waking it there put ping-pong in its slow mode.
            role->RunThread = thread;
            role->RunPasses = 0;
            role->DenseRuns = 0;
        }

        if (++role->RunPasses < DenseRun)
        {
            return false;
        }

        // One clock read per run, at its end: the run is timed from the previous run's end, so a run after a restart
        // (a park, another thread's pass) is timed from before its first pass: it may read slower, never denser.
        long now = Stopwatch.GetTimestamp();
        bool dense = now - role->RunEnd <= _denseRunTicks;
        role->RunEnd = now;
        role->RunPasses = 0;
        role->DenseRuns = dense ? role->DenseRuns + 1 : 0;
        if (role->DenseRuns < _denseRunsToWake || _wakeRequested.Value != 0) // only holders write 1 and the take-back clears it: a plain look is exact here
        {
            return false;
        }

        role->DenseRuns = 0;
        Volatile.Write(ref _wakeRequested.Value, 1); // release is enough: the parking pipeline's registration barrier orders it before the signal's read (EventCount)
        return true;
    }

    /// <summary>
    /// Pipeline thread, its wait returned: takes the role back (a no-op while it holds it), waiting out an assist in
    /// progress, and answers a wake request (it passes next).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TakeBack()
    {
        if (Volatile.Read(ref _role->State) != Awake) // only this thread writes Awake: reading it means the role is held
        {
            TakeBackSlow(answerWake: true);
        }
    }

    /// <summary>
    /// Pipeline thread, about to park (<c>BeforePark</c>): takes the role back like <see cref="TakeBack"/> but leaves a
    /// wake request standing, so that the re-check after its registration sees a request made since its last look.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TakeBackToPark()
    {
        if (Volatile.Read(ref _role->State) != Awake) // only this thread writes Awake: reading it means the role is held
        {
            TakeBackSlow(answerWake: false);
        }
    }

    /// <summary>Poster, its doorbell bit read clear: takes the role if the pipeline thread left it; true when taken.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryBegin()
    {
        long state = Volatile.Read(ref _role->State); // a plain look first: under load the word stays Awake and unwritten
        if (state == Assisting)
        {
            state = AwaitOtherAssist();
        }

        return state == ParkedFree
            && Interlocked.CompareExchange(ref _role->State, Assisting, ParkedFree) == ParkedFree; // acquire: the last holder's writes are visible
    }

    /// <summary>Poster, after its assisted pass (always, in a finally): gives the role back.</summary>
    public void End()
        => Volatile.Write(ref _role->State, ParkedFree); // release: the next holder's swap sees the head moved and the batch counted

    /// <summary>
    /// Another poster holds the role for one pass: look again for a short, bounded while (step (3') of the remarks) and
    /// return the word as last read. Ringing at once would wake the pipeline thread for a record that the role's next
    /// holder could deliver itself; a closed loop (ping-pong) answers from inside the pass it waits on, and each such
    /// wake can leave the pipeline thread awake and yielding (measured: 12-15 µs per round trip instead of 1.6, far).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long AwaitOtherAssist()
    {
        long state = Assisting;
        for (int look = 0; look < _otherAssistLooks && state == Assisting; look++)
        {
            Thread.SpinWait(8);
            state = Volatile.Read(ref _role->State); // a look only: the swap that follows is what acquires the role's state
        }

        return state;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TakeBackSlow(bool answerWake)
    {
        SpinWait spin = default;
        while (Interlocked.CompareExchange(ref _role->State, Awake, ParkedFree) != ParkedFree) // acquire: an assist's writes are visible
        {
            spin.SpinOnce(sleep1Threshold: -1); // a poster holds it for one pass; on 2 cores it may need ours
        }

        if (answerWake && _wakeRequested.Value != 0) // set only by a holder, whose release the swap above acquired
        {
            Volatile.Write(ref _wakeRequested.Value, 0); // answered: the pipeline thread holds the role and passes next
        }
    }
}
