using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace IpiEngine.Transport;

/// <summary>
/// The 24-byte little-endian header in front of every frame (layout in <c>docs/wire-format.md</c>).
/// <see cref="TryRead"/> validates magic, version, kind, reserved bits and the length bounds of the kind
/// as soon as the header has arrived, before the payload is awaited, so a hostile length costs nothing.
/// </summary>
internal readonly struct FrameHeader
{
    /// <summary>"IPIF" as little-endian bytes 49 50 49 46.</summary>
    public const uint Magic = 0x4649_5049;
    /// <summary>The only protocol version this build speaks.</summary>
    public const byte Version = 6;
    /// <summary>Bytes in the header.</summary>
    public const int Size = 24;
    /// <summary>Bytes in one delivery record.</summary>
    public const int RecordSize = 32;
    /// <summary>Protocol bound on records per delivery frame (so a payload is at most 128 KiB).</summary>
    public const int MaxRecordsPerFrame = 4096;
    /// <summary>Bytes in a handshake nonce.</summary>
    public const int NonceSize = 32;
    /// <summary>Bytes in a handshake proof (HMAC-SHA256).</summary>
    public const int MacSize = 32;
    /// <summary>Bytes in a resume block: resend-from, known peer incarnation, next expected.</summary>
    public const int ResumeSize = 24;

    /// <summary>Creates a header.</summary>
    public FrameHeader(FrameKind kind, uint payloadLength, uint recordCount, ulong sequence)
    {
        Kind = kind;
        PayloadLength = payloadLength;
        RecordCount = recordCount;
        Sequence = sequence;
    }

    /// <summary>What the frame carries.</summary>
    public FrameKind Kind { get; }
    /// <summary>Bytes after the header.</summary>
    public uint PayloadLength { get; }
    /// <summary>Delivery records in the payload (0 for other kinds).</summary>
    public uint RecordCount { get; }
    /// <summary>First record's sequence number (deliveries), next expected sequence (ack), else 0.</summary>
    public ulong Sequence { get; }

    /// <summary>The exact payload length each non-delivery kind must have.</summary>
    public static int FixedPayloadLength(FrameKind kind) => kind switch
    {
        FrameKind.Hello => 16 + NonceSize + 4,
        FrameKind.Challenge => 16 + NonceSize + MacSize,
        FrameKind.Auth => MacSize + ResumeSize + FrameProtection.TagSize,
        FrameKind.Welcome => ResumeSize + FrameProtection.TagSize,
        FrameKind.Goodbye => 4,
        FrameKind.Topology => TopologyMessage.Size,
        _ => 0,
    };

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = Version;
        destination[5] = (byte)Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], PayloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], RecordCount);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Sequence);
    }

    /// <summary>
    /// Reads and validates a header from the start of <paramref name="buffer"/>. Returns false when fewer than
    /// <see cref="Size"/> bytes are there; throws <see cref="LinkProtocolException"/> when the header is invalid.
    /// </summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, out FrameHeader header)
    {
        if (buffer.Length < Size)
        {
            header = default;
            return false;
        }
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= Size)
        {
            header = Parse(first[..Size]); // the common case: the header lies in one segment, read in place
            return true;
        }
        Span<byte> bytes = stackalloc byte[Size];
        buffer.Slice(0, Size).CopyTo(bytes);
        header = Parse(bytes);
        return true;
    }

    /// <summary>Parses and validates a header from exactly <see cref="Size"/> bytes.</summary>
    public static FrameHeader Parse(ReadOnlySpan<byte> bytes)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw Fault(LinkFault.BadMagic, "frame does not start with the IPIF magic");
        if (bytes[4] != Version)
            throw Fault(LinkFault.UnsupportedVersion, $"peer speaks protocol version {bytes[4]}, this node speaks {Version}");
        var kind = (FrameKind)bytes[5];
        if (kind is < FrameKind.Hello or > FrameKind.Topology)
            throw Fault(LinkFault.UnknownFrameKind, $"unknown frame kind {bytes[5]}");
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]) != 0)
            throw Fault(LinkFault.ReservedBitsSet, "reserved header bits are set");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]);
        if (kind == FrameKind.Deliveries)
        {
            if (count is 0 or > MaxRecordsPerFrame || length != count * RecordSize)
                throw Fault(LinkFault.LengthOutOfBounds, $"delivery frame with {count} records and {length} payload bytes (bound {MaxRecordsPerFrame} records of {RecordSize} bytes)");
        }
        else if (count != 0 || length != FixedPayloadLength(kind))
        {
            throw Fault(LinkFault.LengthOutOfBounds, $"{kind} frame with {count} records and {length} payload bytes (expected 0 and {FixedPayloadLength(kind)})");
        }
        return new FrameHeader(kind, length, count, sequence);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static LinkProtocolException Fault(LinkFault fault, string message) => new(fault, message);
}
