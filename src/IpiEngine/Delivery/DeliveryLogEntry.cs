using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using IpiEngine.Apic;

namespace IpiEngine.Delivery;

/// <summary>One delivery of one IPI to one destination vCPU, as the optional <see cref="DeliveryLog"/> records it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
public readonly struct DeliveryLogEntry
{
    private const byte LevelFlag = 1;
    private const byte RemoteFlag = 2;

    /// <summary>The caller's tag of the exit record that sent the IPI.</summary>
    [FieldOffset(0)] public readonly ulong Tag;
    /// <summary>When the record was posted (<see cref="System.Diagnostics.Stopwatch"/> ticks; 0 if not stamped).</summary>
    [FieldOffset(8)] public readonly long PostTimestamp;
    /// <summary>When the descriptor was updated (ticks; the same for every entry of one batch).</summary>
    [FieldOffset(16)] public readonly long DeliverTimestamp;
    /// <summary>The sending vCPU.</summary>
    [FieldOffset(24)] public readonly int SourceVcpu;
    /// <summary>The receiving vCPU.</summary>
    [FieldOffset(28)] public readonly int DestinationVcpu;
    /// <summary>The ICR's delivery mode.</summary>
    [FieldOffset(32)] public readonly DeliveryMode DeliveryMode;
    /// <summary>The ICR's vector field.</summary>
    [FieldOffset(33)] public readonly byte Vector;
    [FieldOffset(34)] private readonly byte _flags;

    /// <summary>Creates an entry from a resolved delivery.</summary>
    internal DeliveryLogEntry(in RemoteDelivery delivery, long deliverTimestamp, bool remote)
    {
        Tag = delivery.Tag;
        PostTimestamp = delivery.PostTimestamp;
        DeliverTimestamp = deliverTimestamp;
        SourceVcpu = (int)delivery.SourceVcpu;
        DestinationVcpu = (int)delivery.DestinationVcpu;
        DeliveryMode = delivery.DeliveryMode;
        Vector = delivery.Vector;
        _flags = (byte)((delivery.LevelTriggered ? LevelFlag : 0) | (remote ? RemoteFlag : 0));
    }

    /// <summary>The ICR's trigger mode: level (true) or edge.</summary>
    public bool LevelTriggered => (_flags & LevelFlag) != 0;

    /// <summary>True when the delivery arrived from another node (<see cref="Engine.DeliverRemote"/>).</summary>
    public bool Remote => (_flags & RemoteFlag) != 0;

    /// <summary>The same entry with another deliver timestamp.</summary>
    internal DeliveryLogEntry WithDeliverTimestamp(long timestamp)
    {
        DeliveryLogEntry copy = this;
        Unsafe.AsRef(in copy.DeliverTimestamp) = timestamp;
        return copy;
    }
}
