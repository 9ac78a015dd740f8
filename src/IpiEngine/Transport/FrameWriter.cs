using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>Writes frames straight into a <see cref="PipeWriter"/>'s buffer: no allocation per frame.</summary>
internal static class FrameWriter
{
    /// <summary>One delivery frame for <paramref name="records"/>, numbered from <paramref name="firstSequence"/>.</summary>
    public static int WriteDeliveries(PipeWriter writer, ReadOnlySpan<RemoteDelivery> records, long firstSequence)
    {
        // The record image is the wire image: the transport refuses to start on a big-endian host.
        int payload = records.Length * FrameHeader.RecordSize;
        Span<byte> span = writer.GetSpan(FrameHeader.Size + payload);
        new FrameHeader(FrameKind.Deliveries, (uint)payload, (uint)records.Length, (ulong)firstSequence).Write(span);
        MemoryMarshal.AsBytes(records).CopyTo(span[FrameHeader.Size..]);
        writer.Advance(FrameHeader.Size + payload);
        return FrameHeader.Size + payload;
    }

    /// <summary>A frame without payload: acknowledgement (sequence = next expected) or heartbeat.</summary>
    public static int WriteEmpty(PipeWriter writer, FrameKind kind, long sequence)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size);
        new FrameHeader(kind, 0, 0, (ulong)sequence).Write(span);
        writer.Advance(FrameHeader.Size);
        return FrameHeader.Size;
    }

    /// <summary>A topology replication frame carrying <paramref name="message"/>.</summary>
    public static int WriteTopology(PipeWriter writer, in TopologyMessage message)
    {
        const int length = FrameHeader.Size + TopologyMessage.Size;
        Span<byte> span = writer.GetSpan(length);
        new FrameHeader(FrameKind.Topology, TopologyMessage.Size, 0, 0).Write(span);
        message.Write(span[FrameHeader.Size..]);
        writer.Advance(length);
        return length;
    }

    /// <summary>A goodbye frame carrying <paramref name="reason"/>.</summary>
    public static void WriteGoodbye(PipeWriter writer, LinkFault reason)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size + 4);
        new FrameHeader(FrameKind.Goodbye, 4, 0, 0).Write(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[FrameHeader.Size..], (uint)reason);
        writer.Advance(FrameHeader.Size + 4);
    }

    /// <summary>A handshake frame with its payload.</summary>
    public static void WriteControl(PipeWriter writer, FrameKind kind, ReadOnlySpan<byte> payload)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size + payload.Length);
        new FrameHeader(kind, (uint)payload.Length, 0, 0).Write(span);
        payload.CopyTo(span[FrameHeader.Size..]);
        writer.Advance(FrameHeader.Size + payload.Length);
    }
}
