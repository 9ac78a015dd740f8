using IpiEngine.Apic;
using Xunit;

namespace IpiEngine.Tests.Apic;

/// <summary>Every case of Vectors/device/device-interrupts.json through the resolver, and through a running engine.</summary>
public class DeviceInterruptVectorTests
{
    public static TheoryData<DeviceInterruptCase> Cases => [.. DeviceInterruptCases.All];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resolver_gives_the_expected_destinations_or_rejection(DeviceInterruptCase c)
    {
        var resolver = new IcrResolver(c.Topology(), deviceSources: 2);
        var set = new DestinationSet(c.Vcpus);
        ExitRecord[] records = c.Records(device: 1);
        for (int i = 0; i < records.Length - 1; i++)
        {
            Assert.Equal(ExitKind.Latched, resolver.Process(records[i], set).Kind);
        }

        ExitOutcome outcome = resolver.Process(records[^1], set);

        Assert.Equal(c.IsMsi ? InterruptInput.Msi : InterruptInput.PvIpi, outcome.Input);
        if (c.Reject is { } reason)
        {
            Assert.Equal((ExitKind.Rejected, reason), (outcome.Kind, outcome.Reason));
            Assert.Equal(0, set.Count);
        }
        else
        {
            Assert.Equal(ExitKind.Fired, outcome.Kind);
            Assert.Equal(c.Expect, set.Vcpus.ToArray());
        }
    }

    [Fact]
    public void The_vector_file_covers_both_inputs_and_their_rejections()
    {
        Assert.Contains(DeviceInterruptCases.All, c => c.IsMsi && c.Reject is null);
        Assert.Contains(DeviceInterruptCases.All, c => !c.IsMsi && c.Reject is null);
        foreach (RejectReason reason in new[] { RejectReason.NotAnMsiAddress, RejectReason.ReservedDeliveryMode, RejectReason.IllegalVector, RejectReason.InvalidHypercall, RejectReason.DestinationBeyondVm })
        {
            Assert.Contains(DeviceInterruptCases.All, c => c.Reject == reason);
        }
    }

    [Theory]
    [InlineData(ThreadingMode.Fused)]
    [InlineData(ThreadingMode.Inline)]
    [InlineData(ThreadingMode.PerStage)]
    public void An_engine_delivers_every_case_through_PostMsi_and_PostPvIpi_and_counts_each_kind(ThreadingMode mode)
    {
        foreach (DeviceInterruptCase c in DeviceInterruptCases.All)
        {
            using var engine = new Engine(new EngineOptions
            {
                Topology = c.Topology(), DeviceSources = 2, ThreadingMode = mode, RingCapacity = 16, DeliveryLogCapacity = 1024,
            });
            engine.Start();
            if (c.IsMsi)
            {
                engine.PostMsi(1, c.Input[0], (uint)c.Input[1], tag: 7);
            }
            else
            {
                engine.PostPvIpi(0, c.Input[0], c.Input[1], (uint)c.Input[2], (uint)c.Input[3], tag: 7);
            }

            engine.Stop();
            EngineCounters counters = engine.ReadCounters();
            int[] delivered = engine.ReadDeliveryLog().ToArray().Where(e => e.Tag == 7).Select(e => e.DestinationVcpu).Order().ToArray();
            Assert.True((c.Expect ?? []).SequenceEqual(delivered), $"{c.Name}: delivered [{string.Join(',', delivered)}]");
            int rejected = c.Reject is null ? 0 : 1;
            Assert.Equal(c.IsMsi ? (1 - rejected, rejected, 0L, 0L) : (0L, 0L, 1 - rejected, rejected),
                (counters.MsisResolved, counters.MsisRejected, counters.PvIpisResolved, counters.PvIpisRejected));
            Assert.Equal(rejected, counters.Rejected);
            Assert.Equal(rejected, c.Reject is { } reason ? counters.RejectedBy(reason) : 0);
            Assert.Equal(c.IsMsi ? 0 : 1, counters.Latched); // a PV IPI's upper half latches
            Assert.True(counters.ConservationHolds, counters.ToString());
            if (c.IsMsi && c.Expect is [_, ..])
            {
                Assert.All(engine.ReadDeliveryLog().ToArray(), e => Assert.Equal(c.Vcpus + 1, e.SourceVcpu)); // device 1's source index
            }
        }
    }

    [Fact]
    public void Device_sources_are_checked_and_cannot_write_apic_registers()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 4, DeviceSources = 1, ThreadingMode = ThreadingMode.Inline });
        engine.Start();
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.PostMsi(1, 0xFEE0_0000, 0x31));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.PostMsi(-1, 0xFEE0_0000, 0x31));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.PostPvIpi(4, 1, 0, 0, 0xFD));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.ApplyTopologyWrite(4, ApicRegister.Svr, 0x1FF));
        engine.Post(4, ApicRegister.X2Icr, 0x1_0000_00FD, 1); // device 0 writes an ICR: it has no APIC
        engine.Post(4, ApicRegister.Svr, 0x1FF, 0); // nor a topology
        engine.Post(5, ApicRegister.Msi, 0x31_FEE0_0000, 0); // no such device
        engine.Post(0, ApicRegister.Msi, 0x31_FEE0_0000, 0); // a vCPU writes no MSI
        engine.Stop();
        EngineCounters counters = engine.ReadCounters();
        Assert.Equal(2, counters.RejectedBy(RejectReason.UnknownRegister));
        Assert.Equal(2, counters.RejectedBy(RejectReason.UnknownSource));
        Assert.Equal(0, counters.DestinationsResolved);
        Assert.True(counters.ConservationHolds, counters.ToString());
        Assert.Throws<ArgumentException>(() => new Engine(new EngineOptions { VcpuCount = 4, DeviceSources = EngineOptions.MaxVcpus }));
    }
}
