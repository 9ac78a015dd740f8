using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// The fuller embedding example of docs/embedding.md (kicks, a delivery log), kept compiling and true. The README's
/// shorter one is examples/nuget-consumer/Program.cs, built against the package and run by .ci/steps/40-package.sh.
/// </summary>
public class ReadmeExampleTests
{
    [Fact]
    public void Embedding_example_delivers_and_accounts()
    {
        // --- README example starts ---
        var kicked = new bool[4];
        using var engine = new Engine(new EngineOptions
        {
            Topology = ApicTopology.Configure(4, TopologyKind.X2ApicPhysical), // APIC ID = vCPU index
            NotifyCallback = vcpu => kicked[vcpu] = true,                        // kick the vCPU thread
            DeliveryLogCapacity = 1024,                                          // optional
        });
        engine.Start();

        // vCPU 0's exit handler: an x2APIC ICR write (MSR 0x830), fixed vector 0xFD to APIC ID 2.
        engine.Post(sourceVcpu: 0, register: 0x830, value: (2UL << 32) | 0x40FD, destinationId: 2, tag: 1);

        // vCPU 2, before entering the guest: take what is pending.
        SpinWait.SpinUntil(() => engine.HasPending(2), TimeSpan.FromSeconds(5));
        PendingInterrupts pending = engine.TakePending(2);
        bool reschedule = pending.IsPending(0xFD);

        engine.Stop(); // drains: everything posted before is delivered
        EngineCounters counters = engine.ReadCounters();
        // --- README example ends ---

        Assert.True(reschedule);
        Assert.True(kicked[2]);
        Assert.True(counters.ConservationHolds);
        Assert.Equal(1, counters.Delivered);
        Assert.Equal(1UL, engine.DeliveryLog!.Entries[0].Tag);
    }
}
