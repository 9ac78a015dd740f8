using System.Diagnostics;
using IpiEngine.Apic;
using IpiEngine.Delivery;

namespace IpiEngine.Load;

/// <summary>
/// Drives an engine with a steady offered load (each producer posts unicast x2APIC IPIs at a fixed pace, catching up
/// when late) and reports every delivery's post-to-delivery latency from the delivery log. The caller records the
/// latencies (an HdrHistogram in the benchmark and in <c>ipi run</c>).
/// </summary>
internal static class SteadyLoad
{
    /// <summary>Runs the load; calls <paramref name="recordLatencyTicks"/> with each delivery's latency in Stopwatch ticks.</summary>
    /// <returns>The engine's counters after it stopped.</returns>
    public static EngineCounters Run(SteadyLoadOptions options, Action<long> recordLatencyTicks)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(recordLatencyTicks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Producers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.RatePerProducer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.IpisPerProducer);
        int vcpus = Math.Max(2, options.Producers);
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical),
            ThreadingMode = options.Mode,
            WaitStrategy = options.Wait,
            DeliveryLogCapacity = checked(options.Producers * options.IpisPerProducer),
            Name = "steady-load",
        });
        engine.Start();
        long interval = Math.Max(1, Stopwatch.Frequency / options.RatePerProducer);
        long start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 100); // everyone starts in 10 ms
        var threads = new Thread[options.Producers];
        for (int p = 0; p < threads.Length; p++)
        {
            int source = p;
            threads[p] = new Thread(() => Produce(engine, source, vcpus, start, interval, options.IpisPerProducer))
            {
                IsBackground = true,
                Name = $"load-{p}",
            };
            threads[p].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        engine.Stop();
        foreach (DeliveryLogEntry entry in engine.DeliveryLog!.Entries)
        {
            recordLatencyTicks(entry.DeliverTimestamp - entry.PostTimestamp);
        }

        return engine.ReadCounters();
    }

    private static void Produce(Engine engine, int source, int vcpus, long start, long interval, int count)
    {
        for (int i = 0; i < count; i++)
        {
            long due = start + (i * interval);
            while (Stopwatch.GetTimestamp() < due)
            {
                Thread.Yield(); // paced: leave the cores to the pipeline and the other producers
            }

            uint destination = (uint)((source + 1 + (i % (vcpus - 1))) % vcpus);
            ulong icr = ((ulong)destination << 32) | (uint)(0x20 + (i % 200)) | (1u << 14);
            engine.Post(source, ApicRegister.X2Icr, icr, destination, (ulong)i);
        }
    }
}
