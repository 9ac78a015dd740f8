using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// The send loop's wake signal, and a flush taking the parked loop's role (<see cref="WakeSignal.TryClaimParked"/>):
/// a notification made during a claim is never lost, and a claim never wakes the waiter for nothing.
/// </summary>
public class WakeSignalTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public void Only_a_parked_waiter_can_be_claimed()
    {
        var signal = new WakeSignal();
        Assert.False(signal.TryClaimParked()); // nobody waits

        signal.Notify(); // remembered for the next wait
        Assert.False(signal.TryClaimParked());
        Assert.True(signal.WaitAsync().AsTask().IsCompleted); // consumed without parking

        var parked = signal.WaitAsync().AsTask();
        Assert.False(parked.IsCompleted);
        Assert.True(signal.TryClaimParked());
        Assert.False(signal.TryClaimParked()); // one claimer at a time
        signal.ReleaseClaim(wake: false);
        Assert.True(signal.TryClaimParked()); // parked again after the release
        signal.ReleaseClaim(wake: false);
    }

    [Fact]
    public async Task A_release_without_news_leaves_the_waiter_parked()
    {
        var signal = new WakeSignal();
        var parked = signal.WaitAsync().AsTask();
        Assert.True(signal.TryClaimParked());
        signal.ReleaseClaim(wake: false);

        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.False(parked.IsCompleted);

        signal.Notify(); // an ordinary wake still works
        await parked.WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_notification_during_a_claim_wakes_the_waiter_at_the_release()
    {
        var signal = new WakeSignal();
        var parked = signal.WaitAsync().AsTask();
        Assert.True(signal.TryClaimParked());

        signal.Notify();
        signal.Notify(); // a second one adds nothing
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.False(parked.IsCompleted); // not while the claimer holds the role

        signal.ReleaseClaim(wake: false);
        await parked.WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.False(signal.TryClaimParked()); // it runs now
    }

    [Fact]
    public async Task A_claimer_that_leaves_work_wakes_the_waiter()
    {
        var signal = new WakeSignal();
        var parked = signal.WaitAsync().AsTask();
        Assert.True(signal.TryClaimParked());

        signal.ReleaseClaim(wake: true);
        await parked.WaitAsync(Bound, TestContext.Current.CancellationToken);
    }

    /// <summary>
    /// Notifiers add work and notify; a claimer takes the parked waiter's role and does the work; the waiter does the
    /// work when woken. Whatever the interleaving, every unit of work is done exactly once, by one of the two at a time,
    /// and none is left once the notifiers stop: a lost notification would leave work undone with the waiter parked.
    /// </summary>
    [Fact]
    public async Task Under_racing_notifiers_and_claimers_no_work_is_left_undone_or_done_twice()
    {
        var signal = new WakeSignal();
        long added = 0, done = 0;
        int holders = 0, overlaps = 0, claims = 0;
        bool stop = false;

        void DoWork()
        {
            if (Interlocked.Increment(ref holders) != 1)
                Interlocked.Increment(ref overlaps);
            done = Volatile.Read(ref added); // takes everything added so far (a plain store: one holder at a time)
            Interlocked.Decrement(ref holders);
        }

        var waiter = Task.Run(async () =>
        {
            while (!Volatile.Read(ref stop))
            {
                DoWork();
                await signal.WaitAsync();
            }
        }, TestContext.Current.CancellationToken);
        var claimer = Task.Run(() =>
        {
            var random = new Random(7);
            while (!Volatile.Read(ref stop))
            {
                if (!signal.TryClaimParked())
                {
                    Thread.SpinWait(random.Next(50));
                    continue;
                }
                claims++; // the claimer's own count, read after it ended
                DoWork();
                signal.ReleaseClaim(wake: random.Next(8) == 0);
            }
        }, TestContext.Current.CancellationToken);
        var notifiers = Enumerable.Range(0, 2).Select(n => Task.Run(() =>
        {
            var random = new Random(n);
            var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(800);
            while (DateTime.UtcNow < until)
            {
                Interlocked.Increment(ref added);
                signal.Notify();
                Thread.SpinWait(random.Next(200));
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll(notifiers).WaitAsync(Bound, TestContext.Current.CancellationToken);
        long total = Volatile.Read(ref added);
        var deadline = DateTime.UtcNow + Bound;
        while (Volatile.Read(ref done) != total && DateTime.UtcNow < deadline)
            await Task.Delay(1, TestContext.Current.CancellationToken);

        Assert.Equal(total, Volatile.Read(ref done)); // the last notification was not lost
        Assert.Equal(0, overlaps); // never two holders of the role at once
        Assert.True(total > 1000, $"only {total} notifications: the race was not exercised");

        Volatile.Write(ref stop, true);
        signal.Notify();
        await Task.WhenAll(waiter, claimer).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.True(claims > 0, "the claimer never claimed the parked role: only the waiter's path was exercised");
    }
}
