using System.Buffers.Binary;

namespace IpiEngine.Transport;

/// <summary>
/// What each side tells the other when a connection starts, so that nothing is lost or applied twice:
/// where its unacknowledged records start, which incarnation of the peer it has receive state for,
/// and the next sequence it expects from that incarnation.
/// </summary>
internal readonly record struct ResumeState(long ResendFrom, ulong KnownPeerIncarnation, long NextExpected)
{
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, ResendFrom);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], KnownPeerIncarnation);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], NextExpected);
    }

    public static ResumeState Read(ReadOnlySpan<byte> source)
    {
        var state = new ResumeState(
            BinaryPrimitives.ReadInt64LittleEndian(source),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]));
        if (state.ResendFrom < 0 || state.NextExpected < 0)
            throw new LinkProtocolException(LinkFault.BadAcknowledgement, "negative sequence number in the resume state");
        return state;
    }
}
