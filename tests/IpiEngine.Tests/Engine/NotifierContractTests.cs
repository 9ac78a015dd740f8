using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Issue 17, item 3: the notifier contract is "any engine thread, concurrently; a vCPU is notified again only after
/// it has taken its pending interrupts". Local deliveries (the pipeline) and remote ones (<see cref="Engine.DeliverRemote"/>
/// from several threads) race; every call is counted, no vCPU is notified twice without a take in between, and
/// nothing pending is left without a notification.
/// </summary>
public class NotifierContractTests
{
    private const int Vcpus = 4;

    /// <summary>The embedder's own notifier (issue 15): a struct through <see cref="Engine.Create{TNotifier}"/>.</summary>
    private readonly struct ForwardingNotifier(Action<int> notify) : IDeliveryNotifier
    {
        public void Notify(int vcpu) => notify(vcpu);
    }

    [Fact]
    public void Local_and_remote_deliveries_notify_each_vcpu_once_per_take_from_any_thread()
        => NotifyOncePerTakeFromAnyThread(notify => new Engine(new EngineOptions { VcpuCount = Vcpus, NotifyCallback = notify }));

    [Fact]
    public void An_embedders_notifier_struct_keeps_the_same_contract()
        => NotifyOncePerTakeFromAnyThread(notify => Engine.Create(new EngineOptions { VcpuCount = Vcpus }, new ForwardingNotifier(notify)));

    private static void NotifyOncePerTakeFromAnyThread(Func<Action<int>, Engine> build)
    {
        var outstanding = new int[Vcpus]; // 1 from a notification until the vCPU's take
        int doubled = 0;
        long calls = 0;
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        using Engine engine = build(vcpu =>
        {
            threads[Environment.CurrentManagedThreadId] = true;
            Interlocked.Increment(ref calls);
            if (Interlocked.Exchange(ref outstanding[vcpu], 1) != 0)
            {
                Interlocked.Increment(ref doubled);
            }
        });
        engine.Start();
        bool done = false;
        var workers = new List<Thread>();
        for (int t = 0; t < 2; t++)
        {
            int seed = t;
            workers.Add(new Thread(() =>
            {
                var deliveries = new RemoteDelivery[8];
                for (int round = 0; !Volatile.Read(ref done); round++)
                {
                    for (int i = 0; i < deliveries.Length; i++)
                    {
                        deliveries[i] = new RemoteDelivery((ulong)round, 0, 0, (uint)((round + i + seed) % Vcpus), (uint)(0x40 + i), 0);
                    }

                    engine.DeliverRemote(deliveries);
                }
            }) { IsBackground = true });
        }

        workers.Add(new Thread(() =>
        {
            for (int round = 0; !Volatile.Read(ref done); round++)
            {
                engine.Post(round % Vcpus, ApicRegister.X2Icr, ((ulong)((round + 1) % Vcpus) << 32) | 0x30, 0, (ulong)round);
            }
        }) { IsBackground = true });
        foreach (Thread worker in workers)
        {
            worker.Start();
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        long takes = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(1.5))
        {
            for (int vcpu = 0; vcpu < Vcpus; vcpu++)
            {
                if (Volatile.Read(ref outstanding[vcpu]) != 0)
                {
                    Volatile.Write(ref outstanding[vcpu], 0); // before the take: a notification after it is a new one
                    engine.TakePending(vcpu);
                    takes++;
                }
            }
        }

        Volatile.Write(ref done, true);
        foreach (Thread worker in workers)
        {
            Assert.True(worker.Join(TimeSpan.FromSeconds(20)));
        }

        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(0, doubled);
        Assert.Equal(Interlocked.Read(ref calls), counters.Notifications);
        Assert.True(takes > 0, "no take: the race was not exercised");
        Assert.True(threads.Count >= 2, $"the notifier ran on {threads.Count} thread(s): the pipeline's and the remote deliverers' were expected");
        Assert.True(counters.ConservationHolds, counters.ToString());
        // Nothing pending is left without its notification: a vCPU with pending interrupts was notified and not taken.
        for (int vcpu = 0; vcpu < Vcpus; vcpu++)
        {
            Assert.True(!engine.HasPending(vcpu) || outstanding[vcpu] == 1, $"vCPU {vcpu} has interrupts pending and no notification");
        }
    }
}
