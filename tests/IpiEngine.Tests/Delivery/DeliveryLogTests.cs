using IpiEngine.Delivery;
using Xunit;

namespace IpiEngine.Tests.Delivery;

/// <summary>The delivery log: appends in order, stamps the deliver time, counts overflow without allocating more.</summary>
public class DeliveryLogTests
{
    [Fact]
    public void Appends_then_counts_what_does_not_fit()
    {
        using var log = new DeliveryLog(3);
        var entry = new DeliveryLogEntry(new RemoteDelivery(7, 100, 1, 2, 0x80FD, 2), 0, remote: false);
        log.Append([entry, entry], 555);
        log.Append([entry, entry], 556);
        Assert.Equal(3, log.Count);
        Assert.Equal(1, log.Overflowed);
        Assert.Equal(555, log.Entries[0].DeliverTimestamp);
        Assert.Equal(556, log.Entries[2].DeliverTimestamp);
        Assert.Equal(7UL, log.Entries[2].Tag);
        Assert.Equal(IpiEngine.Apic.DeliveryMode.Fixed, log.Entries[0].DeliveryMode);
        Assert.Equal(0xFD, log.Entries[0].Vector);
        Assert.True(log.Entries[0].LevelTriggered);
        Assert.False(log.Entries[0].Remote);
    }

    [Fact]
    public void Entries_after_disposal_are_refused()
    {
        var log = new DeliveryLog(1);
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.Entries.Length);
    }
}
