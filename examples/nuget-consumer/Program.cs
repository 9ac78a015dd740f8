// An embedder's first program against the IpiEngine package: the README's C# example exactly as printed there (a test
// keeps the README's copy equal to the block below), then four vCPU threads exchanging IPIs. Exits 1 unless the
// example's IPI arrived and, in the exchange, every IPI is accounted for and every delivered vector was taken once.
using IpiEngine;
using IpiEngine.Apic;
using IpiEngine.Delivery;

using var engine = new Engine(new EngineOptions
{
    Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical),
    NotifyCallback = vcpu => KickVcpuThread(vcpu),    // any engine thread, concurrently: only wake the vCPU
});
engine.Start();
// vCPU 0's exit handler: WRMSR 0x830, fixed vector 0xFD to x2APIC ID 2
engine.Post(sourceVcpu: 0, register: 0x830, value: (2UL << 32) | 0x40FD, destinationId: 2, tag: 1);
engine.Stop();                                        // drains: everything posted before is delivered
PendingInterrupts pending = engine.TakePending(2);    // vCPU 2, before VM entry: pending.IsPending(0xFD)
EngineCounters counters = engine.ReadCounters();      // counters.ConservationHolds
// (end of the README's example)

bool exampleOk = pending.IsPending(0xFD) && pending.VectorCount == 1 && counters.Delivered == 1 && counters.ConservationHolds;
Console.WriteLine($"README example: vector 0xFD pending at vCPU 2: {pending.IsPending(0xFD)}; {counters}");
bool exchangeOk = Exchange.Run(vcpus: 4, ipisPerVcpu: 20_000);
bool haltOk = await Halt.Run(rounds: 1_000);
bool allOk = exampleOk && exchangeOk && haltOk;
Console.WriteLine(allOk ? "nuget-consumer: all checks ok" : "nuget-consumer: CHECKS FAILED");
return allOk ? 0 : 1;

static void KickVcpuThread(int vcpu) => Console.WriteLine($"kick: vCPU {vcpu} has interrupts pending");

/// <summary>
/// Each vCPU thread posts fixed IPIs to the next vCPU (x2APIC physical) and, like a vCPU loop before each entry, takes
/// what is pending for itself. Every IPI must be resolved to one destination, every destination delivered or coalesced
/// (an already-pending vector), and the vectors taken must number exactly the deliveries.
/// </summary>
internal static class Exchange
{
    public static bool Run(int vcpus, int ipisPerVcpu)
    {
        var taken = new long[vcpus];
        using var engine = new Engine(new EngineOptions { Topology = ApicTopology.Configure(vcpus, TopologyKind.X2ApicPhysical) });
        engine.Start();
        var threads = new Thread[vcpus];
        for (int v = 0; v < vcpus; v++)
        {
            int self = v;
            threads[v] = new Thread(() =>
            {
                uint target = (uint)((self + 1) % vcpus);
                for (int i = 0; i < ipisPerVcpu; i++)
                {
                    ulong vector = 0x20 + (ulong)(i % 0xD0);
                    engine.Post(self, register: 0x830, value: ((ulong)target << 32) | 0x4000 | vector, destinationId: target, tag: (ulong)i);
                    taken[self] += engine.TakePending(self).VectorCount;
                }
            });
            threads[v].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        engine.Stop();
        for (int v = 0; v < vcpus; v++)
        {
            taken[v] += engine.TakePending(v).VectorCount;
        }

        EngineCounters c = engine.ReadCounters();
        long sent = (long)vcpus * ipisPerVcpu;
        long takenTotal = taken.Sum();
        bool ok = c.Posted == sent && c.IpisResolved == sent && c.Rejected == 0 && c.DestinationsResolved == sent
            && c.ConservationHolds && takenTotal == c.Delivered;
        Console.WriteLine($"exchange: {vcpus} vCPUs x {ipisPerVcpu} IPIs: posted {c.Posted}, resolved {c.IpisResolved}, "
            + $"delivered {c.Delivered} + coalesced {c.Coalesced} of {c.DestinationsResolved} destinations, "
            + $"vectors taken {takenTotal}, conservation {(c.ConservationHolds ? "held" : "BROKEN")}: {(ok ? "ok" : "FAILED")}");
        return ok;
    }
}

/// <summary>The embedder's own notifier: a struct the engine inlines; it counts kicks in an array it references.</summary>
internal readonly struct CountingKick(long[] kicks) : IDeliveryNotifier
{
    public void Notify(int vcpu) => Interlocked.Increment(ref kicks[vcpu]);
}

/// <summary>
/// A halted vCPU 1 waits for its interrupts while vCPU 0 sends them, one at a time: blocking with a timeout, then
/// awaiting. Every IPI must wake the waiter (none lost) and be kicked once through the embedder's notifier struct.
/// </summary>
internal static class Halt
{
    public static async Task<bool> Run(int rounds)
    {
        var kicks = new long[2];
        using Engine engine = Engine.Create(new EngineOptions { VcpuCount = 2 }, new CountingKick(kicks));
        engine.Start();
        int woken = 0;
        for (int i = 0; i < rounds; i++)
        {
            engine.Post(0, register: 0x830, value: (1UL << 32) | 0x4050, destinationId: 1);
            if (engine.WaitForPending(1, TimeSpan.FromSeconds(30), out PendingInterrupts pending) && pending.IsPending(0x50))
            {
                woken++;
            }

            ValueTask<PendingInterrupts> waiting = engine.WaitForPendingAsync(1);
            engine.Post(0, register: 0x830, value: (1UL << 32) | 0x4051, destinationId: 1);
            if ((await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(30))).IsPending(0x51))
            {
                woken++;
            }
        }

        engine.Stop();
        EngineCounters c = engine.ReadCounters();
        bool ok = woken == 2 * rounds && Interlocked.Read(ref kicks[1]) == 2 * rounds && c.Delivered == 2 * rounds && c.ConservationHolds;
        Console.WriteLine($"halt: {woken} of {2 * rounds} IPIs woke the waiting vCPU, {kicks[1]} kicks: {(ok ? "ok" : "FAILED")}");
        return ok;
    }
}
