using IpiEngine.Delivery;
using IpiEngine.Native;
using Xunit;

namespace IpiEngine.Tests.Native;

/// <summary>
/// ABI 1.3 through the exports: <c>ipi_descriptor</c> (the hardware-format descriptor a C host reads directly),
/// <c>ipi_vcpu_set_running</c> (SN) and <c>IPI_THREADING_INLINE</c>.
/// </summary>
public unsafe class NativeDescriptorTests
{
    [Fact]
    public void The_descriptor_address_shows_the_pir_and_set_running_suppresses_the_kick()
    {
        NativeConfig config = Abi.Config(3);
        config.ThreadingMode = AbiValues.ThreadingInline; // delivered before ipi_post returns: no stop needed to look
        ulong engine = Abi.CreateOrFail(config);
        try
        {
            PostedInterruptDescriptor* d;
            Assert.Equal(Status.Ok, Abi.Descriptor(engine, 2, &d));
            Assert.Equal(0, (long)d % 64);
            Assert.Equal(Status.Ok, Abi.Start(engine));

            Assert.Equal(0, Abi.VcpuSetRunning(engine, 2, 1)); // running: nothing pending yet
            NativeExit record = Abi.Icr(0, 2, 0x41);
            Assert.Equal(Status.Ok, Abi.Post(engine, &record));
            Assert.Equal(1ul << 1, Volatile.Read(ref *(ulong*)((byte*)d + 8))); // PIR: vector 0x41 = word 1, bit 1, read in place
            Assert.Equal(PostedInterruptDescriptor.SuppressNotification, Volatile.Read(ref *(ulong*)((byte*)d + 32))); // SN, no ON
            Assert.Equal(0ul, Abi.ReadCounters(engine).Notifications); // no kick while running

            Assert.Equal(1, Abi.VcpuSetRunning(engine, 2, 0)); // halting: something arrived unkicked, take it first
            Assert.Equal(PostedInterruptDescriptor.OutstandingNotification, Volatile.Read(ref *(ulong*)((byte*)d + 32)));
            NativePending pending;
            Assert.Equal(1, Abi.TakePending(engine, 2, &pending));
            Assert.Equal(1ul << 1, pending.Vectors[1]);
            Assert.Equal(0ul, Volatile.Read(ref *(ulong*)((byte*)d + 8)));

            record = Abi.Icr(1, 2, 0x42);
            Assert.Equal(Status.Ok, Abi.Post(engine, &record));
            Assert.Equal(1ul, Abi.ReadCounters(engine).Notifications); // not running: kicked
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }

    [Fact]
    public void Bad_arguments_are_statuses_with_a_sentence()
    {
        ulong engine = Abi.CreateOrFail(Abi.Config(2));
        try
        {
            PostedInterruptDescriptor* d = (PostedInterruptDescriptor*)1;
            Assert.Equal(Status.VcpuRange, Abi.Descriptor(engine, 2, &d));
            Assert.True(d == null, "a failed ipi_descriptor leaves *out NULL");
            Assert.Equal(Status.NullPointer, Abi.Descriptor(engine, 0, null));
            // Not engine + 1: that names the next slot, which an engine of a test running in parallel may hold (seen once
            // in CI). The same slot under another generation is surely stale: this engine holds the slot until destroyed.
            ulong stale = engine ^ (1ul << 63);
            Assert.Equal(Status.BadHandle, Abi.Descriptor(stale, 0, &d));
            Assert.Equal(Status.VcpuRange, Abi.VcpuSetRunning(engine, 5, 1));
            Assert.Contains("5", Abi.LastErrorText(), StringComparison.Ordinal);
            Assert.Equal(Status.BadHandle, Abi.VcpuSetRunning(0, 0, 1));

            NativeConfig config = Abi.Config(2);
            config.ThreadingMode = 3;
            ulong none;
            Assert.Equal(Status.BadConfig, Abi.Create(&config, &none));
        }
        finally
        {
            Assert.Equal(Status.Ok, Abi.Destroy(engine));
        }
    }
}
