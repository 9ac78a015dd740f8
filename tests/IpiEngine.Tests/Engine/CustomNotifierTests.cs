using System.Collections.Concurrent;
using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Issue 15: an embedder's own notifier struct through <see cref="Engine.Create{TNotifier}"/>. It sees every delivery
/// that needs a notification, in both threading modes, from the threads the contract names (docs/lifecycle.md).
/// </summary>
public class CustomNotifierTests
{

    /// <summary>What the notifier struct records (it holds only a reference: the engine copies the struct).</summary>
    internal sealed class Probe(int vcpus)
    {
        public readonly long[] Calls = new long[vcpus];
        public readonly ConcurrentDictionary<int, bool> Threads = new();

        public long Total
        {
            get
            {
                long total = 0;
                for (int vcpu = 0; vcpu < Calls.Length; vcpu++)
                {
                    total += Interlocked.Read(ref Calls[vcpu]);
                }

                return total;
            }
        }
    }

    internal readonly struct ProbeNotifier(Probe probe) : IDeliveryNotifier
    {
        public void Notify(int vcpu)
        {
            probe.Threads[Environment.CurrentManagedThreadId] = true;
            Interlocked.Increment(ref probe.Calls[vcpu]);
        }
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.PerStage)]
    public void A_custom_struct_notifier_sees_every_delivery(ThreadingMode mode)
    {
        const int Vcpus = 4;
        const int Ipis = 2_000;
        var probe = new Probe(Vcpus);
        using Engine engine = Engine.Create(new EngineOptions { VcpuCount = Vcpus, ThreadingMode = mode }, new ProbeNotifier(probe));
        engine.Start();
        for (int i = 0; i < Ipis; i++)
        {
            int destination = (i + 1) % Vcpus;
            byte vector = (byte)(0x40 + (i % 100));
            long before = Interlocked.Read(ref probe.Calls[destination]);
            engine.Post(i % Vcpus, ApicRegister.X2Icr, Unicast((uint)destination, vector), (uint)destination, (ulong)i);
            var clock = Stopwatch.StartNew();
            while (Interlocked.Read(ref probe.Calls[destination]) == before)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"IPI {i}: vCPU {destination} was never notified");
                Thread.Yield();
            }

            PendingInterrupts pending = engine.TakePending(destination); // taken: the next delivery notifies again
            Assert.True(pending.IsPending(vector) && pending.VectorCount == 1, $"IPI {i}: vector 0x{vector:x} not the one pending");
        }

        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(Ipis, probe.Total);
        Assert.Equal(Ipis, counters.Notifications);
        Assert.Equal(Ipis, counters.Delivered);
        if (mode == ThreadingMode.Fused)
        {
            // The pipeline's thread, or (the idle assist, docs/lifecycle.md) a post that found it parked and delivered
            // itself on the posting thread: every assisted pass here delivers one IPI that needs a notification.
            Assert.Equal(counters.AssistedPasses > 0, probe.Threads.ContainsKey(Environment.CurrentManagedThreadId));
            Assert.True(probe.Threads.Count <= 2, $"notified on {probe.Threads.Count} threads");
        }
        else
        {
            Assert.DoesNotContain(Environment.CurrentManagedThreadId, probe.Threads.Keys); // local deliveries: the pipeline's threads
        }

        Assert.True(counters.ConservationHolds, counters.ToString());
    }

    [Fact]
    public void An_engine_has_one_notifier()
    {
        var options = new EngineOptions { VcpuCount = 2, NotifyCallback = _ => { } };
        var error = Assert.Throws<ArgumentException>(() => Engine.Create(options, new ProbeNotifier(new Probe(2))));
        Assert.Contains("one notifier", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => Engine.Create(null!, new ProbeNotifier(new Probe(2))));
    }

    [Fact]
    public void An_engine_never_started_notifies_on_the_thread_that_stops_it()
    {
        var probe = new Probe(2);
        using Engine engine = Engine.Create(new EngineOptions { VcpuCount = 2 }, new ProbeNotifier(probe));
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x50), 1);
        Assert.Equal(0, probe.Total); // queued: no engine thread runs
        int stopper = 0;
        var thread = new Thread(() =>
        {
            stopper = Environment.CurrentManagedThreadId;
            engine.Stop(); // the drain runs here
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, probe.Calls[1]);
        Assert.Equal([stopper], probe.Threads.Keys);
        Assert.True(engine.TakePending(1).IsPending(0x50));
    }
}
