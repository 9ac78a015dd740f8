using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using IpiEngine.Delivery;

namespace IpiEngine.Transport;

/// <summary>
/// Writes frames straight into a <see cref="PipeWriter"/>'s buffer, each followed by its tag when the connection is
/// protected (every frame after the handshake): no allocation per frame.
/// </summary>
internal static class FrameWriter
{
    /// <summary>One delivery frame for <paramref name="records"/>, numbered from <paramref name="firstSequence"/>.</summary>
    public static int WriteDeliveries(PipeWriter writer, FrameProtection? protection, ReadOnlySpan<RemoteDelivery> records, long firstSequence)
    {
        // The record image is the wire image: the transport refuses to start on a big-endian host.
        int payload = records.Length * FrameHeader.RecordSize;
        Span<byte> span = writer.GetSpan(FrameHeader.Size + payload + FrameProtection.TagSize);
        new FrameHeader(FrameKind.Deliveries, (uint)payload, (uint)records.Length, (ulong)firstSequence).Write(span);
        MemoryMarshal.AsBytes(records).CopyTo(span[FrameHeader.Size..]);
        return Finish(writer, protection, span, FrameHeader.Size + payload);
    }

    /// <summary>A frame without payload: acknowledgement (sequence = next expected) or heartbeat.</summary>
    public static int WriteEmpty(PipeWriter writer, FrameProtection? protection, FrameKind kind, long sequence)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size + FrameProtection.TagSize);
        new FrameHeader(kind, 0, 0, (ulong)sequence).Write(span);
        return Finish(writer, protection, span, FrameHeader.Size);
    }

    /// <summary>A topology replication frame carrying <paramref name="message"/>.</summary>
    public static int WriteTopology(PipeWriter writer, FrameProtection? protection, in TopologyMessage message)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size + TopologyMessage.Size + FrameProtection.TagSize);
        new FrameHeader(FrameKind.Topology, TopologyMessage.Size, 0, 0).Write(span);
        message.Write(span[FrameHeader.Size..]);
        return Finish(writer, protection, span, FrameHeader.Size + TopologyMessage.Size);
    }

    /// <summary>A goodbye frame carrying <paramref name="reason"/>.</summary>
    public static void WriteGoodbye(PipeWriter writer, FrameProtection? protection, LinkFault reason)
    {
        Span<byte> span = writer.GetSpan(FrameHeader.Size + 4 + FrameProtection.TagSize);
        new FrameHeader(FrameKind.Goodbye, 4, 0, 0).Write(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[FrameHeader.Size..], (uint)reason);
        Finish(writer, protection, span, FrameHeader.Size + 4);
    }

    /// <summary>
    /// A handshake frame with its payload. Auth and Welcome end with a tag inside their fixed payload (the last
    /// <see cref="FrameProtection.TagSize"/> bytes of <paramref name="payload"/> are overwritten by it), never encrypted.
    /// </summary>
    public static void WriteControl(PipeWriter writer, FrameKind kind, ReadOnlySpan<byte> payload, FrameProtection? protection = null)
    {
        int length = FrameHeader.Size + payload.Length;
        Span<byte> span = writer.GetSpan(length);
        new FrameHeader(kind, (uint)payload.Length, 0, 0).Write(span);
        payload.CopyTo(span[FrameHeader.Size..]);
        protection?.Seal(span[..(length - FrameProtection.TagSize)], span.Slice(length - FrameProtection.TagSize, FrameProtection.TagSize), encryptPayload: false);
        writer.Advance(length);
    }

    /// <summary>Tests: a frame given whole (header and payload), tagged like any frame after the handshake.</summary>
    public static void WriteRaw(PipeWriter writer, FrameProtection protection, ReadOnlySpan<byte> frame)
    {
        Span<byte> span = writer.GetSpan(frame.Length + FrameProtection.TagSize);
        frame.CopyTo(span);
        Finish(writer, protection, span, frame.Length);
    }

    private static int Finish(PipeWriter writer, FrameProtection? protection, Span<byte> span, int length)
    {
        if (protection is not null)
        {
            protection.Seal(span[..length], span.Slice(length, FrameProtection.TagSize));
            length += FrameProtection.TagSize;
        }
        writer.Advance(length);
        return length;
    }
}
