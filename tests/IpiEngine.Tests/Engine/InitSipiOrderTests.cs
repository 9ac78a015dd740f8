using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Issue 17, item 2: an INIT and a SIPI to one vCPU delivered in one batch are taken together. A vCPU thread calls
/// <see cref="Engine.TakePending"/> in a tight loop while INIT+SIPI pairs arrive, through the pipeline and through
/// <see cref="Engine.DeliverRemote"/>; no take may hold the SIPI without its INIT (or the INIT without its SIPI).
/// </summary>
public class InitSipiOrderTests
{
    private const uint Init = 0x4500;      // INIT, level assert
    private const uint Sipi = 0x4600 | 0x9A; // start-up, page 0x9A

    [Fact]
    public void A_take_never_splits_an_init_sipi_pair_posted_in_one_batch()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2 });
        engine.Start();
        ExitRecord[] pair =
        [
            ExitRecord.Create(0, ApicRegister.X2Icr, (1UL << 32) | Init, 1, 1),
            ExitRecord.Create(0, ApicRegister.X2Icr, (1UL << 32) | Sipi, 1, 2),
        ];
        var (takes, split) = RaceTaker(engine, () => engine.PostBatch(0, pair));
        engine.Stop();
        AssertNoSplit(engine, takes, split);
    }

    [Fact]
    public void A_take_never_splits_an_init_sipi_pair_delivered_remotely()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2 });
        engine.Start();
        RemoteDelivery[] pair = [new(1, 0, 0, 1, Init, 1), new(2, 0, 0, 1, Sipi, 1)];
        var (takes, split) = RaceTaker(engine, () => engine.DeliverRemote(pair));
        engine.Stop();
        AssertNoSplit(engine, takes, split);
    }

    private static void AssertNoSplit(Engine engine, long takes, string? split)
    {
        Assert.True(split is null, split);
        Assert.True(takes > 0, "no take saw the pair: the race was not exercised");
        EngineCounters counters = engine.ReadCounters();
        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    /// <summary>
    /// Runs <paramref name="deliverPair"/> in a loop while this thread takes vCPU 1's pending interrupts, until 20,000
    /// takes saw the pair or 6 s passed (a loaded machine gets fewer rounds; the old code split a pair within tens).
    /// </summary>
    private static (long Takes, string? Split) RaceTaker(Engine engine, Action deliverPair)
    {
        bool done = false;
        long seen = 0;
        var deliverer = new Thread(() =>
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(6) && Volatile.Read(ref seen) < 20_000)
            {
                deliverPair();
            }

            Volatile.Write(ref done, true);
        }) { IsBackground = true };
        deliverer.Start();
        long takes = 0;
        string? split = null;
        while (!Volatile.Read(ref done) || engine.HasPending(1))
        {
            PendingInterrupts taken = engine.TakePending(1);
            if (taken.Init != taken.Sipi)
            {
                split ??= $"take {takes}: INIT {taken.Init}, SIPI {taken.Sipi}";
            }

            takes += taken.Init ? 1 : 0;
            Volatile.Write(ref seen, takes);
        }

        Assert.True(deliverer.Join(TimeSpan.FromSeconds(20)));
        return (takes, split);
    }
}
