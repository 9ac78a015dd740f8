using IpiEngine.Apic;
using IpiEngine.Delivery;
using Xunit;
using static IpiEngine.Tests.Facade.TestIcr;

namespace IpiEngine.Tests.Facade;

/// <summary>
/// Issue 15: the delivery log is read through <see cref="Engine.ReadDeliveryLog"/>, read-only and only once the engine
/// has stopped; the engine hands out no part (log, descriptors, resolver) that could be disposed or driven beside it.
/// </summary>
public class ReadDeliveryLogTests
{

    [Fact]
    public void The_log_is_read_once_the_engine_has_stopped()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 16 });
        Assert.Contains("once it has stopped", Assert.Throws<InvalidOperationException>(() => engine.ReadDeliveryLog().Length).Message, StringComparison.Ordinal);
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x61), 1, tag: 7);
        Assert.Throws<InvalidOperationException>(() => engine.ReadDeliveryLog().Length); // running: the pipeline writes it
        engine.Stop();
        ReadOnlySpan<DeliveryLogEntry> log = engine.ReadDeliveryLog();
        Assert.Equal(1, log.Length);
        Assert.Equal((7UL, 0, 1, (byte)0x61), (log[0].Tag, log[0].SourceVcpu, log[0].DestinationVcpu, log[0].Vector));
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.ReadDeliveryLog().Length);
    }

    [Theory]
    [InlineData(DeliveryLogMode.First)]
    [InlineData(DeliveryLogMode.Sample)]
    public void A_log_read_after_the_stop_stays_as_read_while_the_links_still_deliver(DeliveryLogMode mode)
    {
        // A stopped engine still applies and logs what a link delivers (DeliverRemote). Found by a review: a sampling log
        // that fills halves itself in place, under a reader that was told it may read; a First log's count covered
        // entries reserved and not yet written.
        using var engine = new Engine(new EngineOptions { VcpuCount = 2, DeliveryLogCapacity = 2, DeliveryLogMode = mode });
        engine.Start();
        engine.Post(0, ApicRegister.X2Icr, Unicast(1, 0x61), 1, tag: 7);
        engine.Stop();
        ReadOnlySpan<DeliveryLogEntry> read = engine.ReadDeliveryLog();
        DeliveryLogEntry[] asRead = read.ToArray();

        for (ulong tag = 8; tag < 40; tag++)
        {
            engine.DeliverRemote([new RemoteDelivery(tag, 0, 1, 0, 0x62, 0)]);
        }

        Assert.Equal(asRead, read.ToArray());
        EngineCounters after = engine.ReadCounters();
        Assert.Equal(32, after.RemoteDelivered + after.RemoteCoalesced); // applied all the same
        Assert.Equal(33 - engine.ReadDeliveryLog().Length, after.LogOverflow); // and each either logged or counted
    }

    [Fact]
    public void An_engine_without_a_log_says_how_to_get_one()
    {
        using var engine = new Engine(new EngineOptions { VcpuCount = 2 });
        engine.Stop();
        Assert.Contains("DeliveryLogCapacity", Assert.Throws<InvalidOperationException>(() => engine.ReadDeliveryLog().Length).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_engine_exposes_no_disposable_or_internal_part()
    {
        foreach (var property in typeof(Engine).GetProperties())
        {
            Assert.True(property.PropertyType.IsPublic || property.PropertyType.IsPrimitive, $"Engine.{property.Name} exposes {property.PropertyType}");
            Assert.False(typeof(IDisposable).IsAssignableFrom(property.PropertyType), $"Engine.{property.Name} can be disposed under the engine");
        }

        Assert.Null(typeof(Engine).GetProperty("Resolver"));
        Assert.Null(typeof(Engine).GetProperty("Descriptors"));
        Assert.Null(typeof(Engine).GetProperty("DeliveryLog"));
        Assert.Null(typeof(Engine).GetMethod("ApplyReplicatedTopologyWrite"));
    }
}
