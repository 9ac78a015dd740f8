using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IpiEngine.Transport;
using Xunit;

namespace IpiEngine.Tests.Transport;

/// <summary>
/// The frame tags on their own: a frame sealed by one side opens on the other exactly once, in order; a changed bit
/// opens nothing; a clear payload is handed back where it lies (the receive loop applies records from the pipe's
/// buffer), an encrypted one is decrypted into the caller's buffer and cleared again when the tag fails.
/// </summary>
public class FrameProtectionTests
{
    private const int PayloadBytes = 3 * FrameHeader.RecordSize;

    private static (FrameProtection Dialer, FrameProtection Acceptor) Pair(bool encrypt)
    {
        byte[] key = new byte[32], dialerNonce = new byte[FrameHeader.NonceSize], acceptorNonce = new byte[FrameHeader.NonceSize];
        key[0] = 1;
        dialerNonce[0] = 2;
        acceptorNonce[0] = 3;
        return (FrameProtection.Derive(key, encrypt, dialer: true, dialerNonce, acceptorNonce, 0, 1, 10, 11),
                FrameProtection.Derive(key, encrypt, dialer: false, dialerNonce, acceptorNonce, 0, 1, 10, 11));
    }

    /// <summary>A sealed delivery frame (header, a payload of 1, 2, 3, ..., tag) as it goes on the wire.</summary>
    private static byte[] Sealed(FrameProtection sender, ulong sequence = 0)
    {
        byte[] wire = new byte[FrameHeader.Size + PayloadBytes + FrameProtection.TagSize];
        new FrameHeader(FrameKind.Deliveries, PayloadBytes, 3, sequence).Write(wire);
        for (int i = 0; i < PayloadBytes; i++)
            wire[FrameHeader.Size + i] = (byte)(i + 1);
        sender.Seal(wire.AsSpan(0, FrameHeader.Size + PayloadBytes), wire.AsSpan(FrameHeader.Size + PayloadBytes));
        return wire;
    }

    private static bool Open(FrameProtection receiver, byte[] wire, byte[] decrypted, out ReadOnlySpan<byte> payload)
    {
        int tagAt = wire.Length - FrameProtection.TagSize;
        return receiver.TryOpen(wire.AsSpan(0, tagAt), wire.AsSpan(tagAt), decrypted, out payload);
    }

    private static byte[] ExpectedPayload() => Enumerable.Range(1, PayloadBytes).Select(i => (byte)i).ToArray();

    [Fact]
    public void A_gmac_frame_opens_in_place_without_a_copy()
    {
        var (dialer, acceptor) = Pair(encrypt: false);
        using (dialer)
        using (acceptor)
        {
            byte[] wire = Sealed(dialer);
            Assert.Equal(ExpectedPayload(), wire.AsSpan(FrameHeader.Size, PayloadBytes).ToArray()); // GMAC: clear on the wire
            byte[] decrypted = new byte[PayloadBytes];
            Assert.True(Open(acceptor, wire, decrypted, out var payload));
            Assert.Equal(PayloadBytes, payload.Length);
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(payload), ref wire[FrameHeader.Size]), "the payload should be the frame's own bytes");
            Assert.All(decrypted, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void An_encrypted_frame_is_decrypted_into_the_callers_buffer()
    {
        var (dialer, acceptor) = Pair(encrypt: true);
        using (dialer)
        using (acceptor)
        {
            byte[] wire = Sealed(dialer);
            Assert.NotEqual(ExpectedPayload(), wire.AsSpan(FrameHeader.Size, PayloadBytes).ToArray());
            byte[] decrypted = new byte[PayloadBytes];
            Assert.True(Open(acceptor, wire, decrypted, out var payload));
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(payload), ref decrypted[0]));
            Assert.Equal(ExpectedPayload(), payload.ToArray());
        }
    }

    [Theory]
    [InlineData(false, 5)]                                   // header (kind)
    [InlineData(false, FrameHeader.Size + 40)]               // payload
    [InlineData(false, FrameHeader.Size + PayloadBytes + 3)] // tag
    [InlineData(true, 17)]                                   // header (sequence)
    [InlineData(true, FrameHeader.Size + 40)]
    [InlineData(true, FrameHeader.Size + PayloadBytes + 3)]
    public void A_flipped_bit_opens_nothing(bool encrypt, int at)
    {
        var (dialer, acceptor) = Pair(encrypt);
        using (dialer)
        using (acceptor)
        {
            byte[] wire = Sealed(dialer);
            wire[at] ^= 0x10;
            byte[] decrypted = new byte[PayloadBytes];
            Assert.False(Open(acceptor, wire, decrypted, out var payload));
            Assert.True(payload.IsEmpty);
            Assert.All(decrypted, b => Assert.Equal(0, b)); // nothing of the failed frame is left readable
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frames_open_once_each_in_order_and_only_in_their_direction(bool encrypt)
    {
        var (dialer, acceptor) = Pair(encrypt);
        using (dialer)
        using (acceptor)
        {
            byte[] decrypted = new byte[PayloadBytes];
            byte[] first = Sealed(dialer, 0), second = Sealed(dialer, 3);
            Assert.False(Open(acceptor, second, decrypted, out _)); // reordered: counter 1 where 0 is expected
            Assert.False(Open(dialer, first, decrypted, out _));    // reflected back to its sender
        }
        (dialer, acceptor) = Pair(encrypt);
        using (dialer)
        using (acceptor)
        {
            byte[] decrypted = new byte[PayloadBytes];
            byte[] first = Sealed(dialer, 0);
            Assert.True(Open(acceptor, first, decrypted, out _));
            Assert.False(Open(acceptor, first, decrypted, out _)); // replayed
        }
    }
}
