using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using IpiEngine.Delivery;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

public class FrameHeaderTests
{
    private static byte[] Bytes(FrameHeader header)
    {
        var bytes = new byte[FrameHeader.Size];
        header.Write(bytes);
        return bytes;
    }

    [Fact]
    public void Delivery_record_is_32_bytes_as_the_wire_format_says()
        => Assert.Equal(FrameHeader.RecordSize, System.Runtime.CompilerServices.Unsafe.SizeOf<RemoteDelivery>());

    [Fact]
    public void Header_round_trips_and_is_little_endian()
    {
        var header = new FrameHeader(FrameKind.Deliveries, 3 * 32, 3, 0x0102_0304_0506_0708);
        var bytes = Bytes(header);
        Assert.Equal("IPIF"u8.ToArray(), bytes[..4]);
        Assert.Equal(0x08, bytes[16]);
        var back = FrameHeader.Parse(bytes);
        Assert.Equal((header.Kind, header.PayloadLength, header.RecordCount, header.Sequence), (back.Kind, back.PayloadLength, back.RecordCount, back.Sequence));
    }

    [Theory]
    [InlineData(0, 0xFF, LinkFault.BadMagic)]
    [InlineData(4, 1, LinkFault.UnsupportedVersion)] // version 1 had no topology frames
    [InlineData(4, 2, LinkFault.UnsupportedVersion)] // version 2 had no frame tags
    [InlineData(4, 3, LinkFault.UnsupportedVersion)] // version 3 tagged frames with HMAC-SHA256 and had no device sources nor IOAPIC EOI records
    [InlineData(4, 4, LinkFault.UnsupportedVersion)] // version 4 had no Replay message, so its sequencer could not recover the order after a restart
    [InlineData(4, 5, LinkFault.UnsupportedVersion)] // version 5 read an IOAPIC entry write (bit 30) as an EOI
    [InlineData(4, 7, LinkFault.UnsupportedVersion)]
    [InlineData(5, 0, LinkFault.UnknownFrameKind)]
    [InlineData(5, 10, LinkFault.UnknownFrameKind)]
    [InlineData(6, 1, LinkFault.ReservedBitsSet)]
    [InlineData(11, 0xFF, LinkFault.LengthOutOfBounds)] // payload length 0xFF0000C0: far past the bound
    [InlineData(12, 4, LinkFault.LengthOutOfBounds)]    // record count no longer matches the length
    public void A_bad_header_is_refused_with_its_reason(int offset, byte value, LinkFault expected)
    {
        var bytes = Bytes(new FrameHeader(FrameKind.Deliveries, 6 * 32, 6, 0));
        bytes[offset] = value;
        Assert.Equal(expected, Assert.Throws<LinkProtocolException>(() => FrameHeader.Parse(bytes)).Fault);
    }

    [Fact]
    public void More_records_than_the_bound_are_refused_before_the_payload_is_read()
    {
        uint count = FrameHeader.MaxRecordsPerFrame + 1;
        var bytes = Bytes(new FrameHeader(FrameKind.Deliveries, count * 32, count, 0));
        Assert.Equal(LinkFault.LengthOutOfBounds, Assert.Throws<LinkProtocolException>(() => FrameHeader.Parse(bytes)).Fault);
    }

    [Fact]
    public void An_incomplete_header_waits_for_more_bytes()
    {
        var bytes = Bytes(new FrameHeader(FrameKind.Heartbeat, 0, 0, 0));
        Assert.False(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes, 0, FrameHeader.Size - 1), out _));
        Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(bytes), out var header));
        Assert.Equal(FrameKind.Heartbeat, header.Kind);
    }

    [Fact]
    public void A_header_cut_across_two_pipe_segments_reads_as_one_in_one_piece()
    {
        var bytes = Bytes(new FrameHeader(FrameKind.Deliveries, 5 * 32, 5, 0x1122_3344_5566_7788));
        for (int cut = 1; cut < FrameHeader.Size; cut++)
        {
            var first = new Segment(bytes.AsMemory(0, cut));
            var last = first.Append(bytes.AsMemory(cut));
            Assert.True(FrameHeader.TryRead(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), out var header));
            Assert.Equal((FrameKind.Deliveries, 5u * 32, 5u, 0x1122_3344_5566_7788ul), (header.Kind, header.PayloadLength, header.RecordCount, header.Sequence));
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }

    [Fact]
    public void Any_24_bytes_either_parse_within_the_bounds_or_are_refused_with_a_reason()
        => Gen.Byte.Array[FrameHeader.Size].Sample(bytes =>
        {
            // Bias half the samples towards a valid prefix so the later checks are reached too.
            if ((bytes[23] & 1) == 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, FrameHeader.Magic);
                bytes[4] = FrameHeader.Version;
                bytes[5] = (byte)(1 + (bytes[5] % 8));
                bytes[6] = bytes[7] = 0;
            }
            try
            {
                var h = FrameHeader.Parse(bytes);
                Assert.True(h.PayloadLength <= FrameHeader.MaxRecordsPerFrame * FrameHeader.RecordSize);
                Assert.Equal(h.Kind == FrameKind.Deliveries ? h.RecordCount * FrameHeader.RecordSize : (uint)FrameHeader.FixedPayloadLength(h.Kind), h.PayloadLength);
            }
            catch (LinkProtocolException e)
            {
                Assert.NotEqual(LinkFault.None, e.Fault);
            }
        }, iter: 20_000);
}
