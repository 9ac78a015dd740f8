using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace IpiEngine.Transport;

/// <summary>
/// The per-connection keys and frame counters that authenticate (and optionally encrypt) every frame from the
/// handshake's Auth and Welcome on. Keys come from HKDF-SHA256 over the pre-shared key, salted with both handshake
/// nonces, one key per direction; each direction counts its frames from 0, and the counter and the direction are
/// bound into every tag, so a frame altered, replayed, reordered, reflected or spliced from another connection fails.
/// Mode MAC: tag = the first 16 bytes of HMAC-SHA256(key, counter ‖ direction ‖ 7 zero bytes ‖ header ‖ payload).
/// Mode AES-GCM: the payload is encrypted under AES-256-GCM, nonce = direction (u32) ‖ counter (u64), the header as
/// associated data, 16-byte tag. Nothing is allocated per frame. Layout: <c>docs/wire-format.md</c>.
/// </summary>
internal sealed class FrameProtection : IDisposable
{
    /// <summary>Bytes of the tag that follows each protected frame.</summary>
    public const int TagSize = 16;

    private const int KeySize = 32;
    private static readonly byte[] SessionLabel = Encoding.ASCII.GetBytes("IPIF session v3 ");

    private readonly IncrementalHash? _sendMac, _receiveMac;
    private readonly AesGcm? _sendAead, _receiveAead;
    private readonly uint _sendDirection, _receiveDirection;
    private ulong _sendCounter, _receiveCounter;

    private FrameProtection(ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, bool dialer, bool encrypt)
    {
        _sendDirection = dialer ? 1u : 2u;
        _receiveDirection = dialer ? 2u : 1u;
        if (encrypt)
        {
            _sendAead = new AesGcm(sendKey, TagSize);
            _receiveAead = new AesGcm(receiveKey, TagSize);
        }
        else
        {
            _sendMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, sendKey);
            _receiveMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, receiveKey);
        }
    }

    /// <summary>Whether payloads are encrypted (AES-GCM) rather than only authenticated (HMAC).</summary>
    public bool Encrypts => _sendAead is not null;

    /// <summary>Benchmarks only (<see cref="TransportOptions.UntaggedFramesForBenchmarks"/>): seal writes a zero tag, open checks none.</summary>
    internal bool SkipTags { get; set; }

    /// <summary>The counter the next received frame must carry (for messages).</summary>
    public ulong ReceiveCounter => _receiveCounter;

    /// <summary>Derives both directions' keys of one connection; <paramref name="dialer"/> says which side this is.</summary>
    public static FrameProtection Derive(ReadOnlySpan<byte> preSharedKey, bool encrypt, bool dialer, ReadOnlySpan<byte> dialerNonce,
        ReadOnlySpan<byte> acceptorNonce, int dialerId, int acceptorId, ulong dialerIncarnation, ulong acceptorIncarnation)
    {
        Span<byte> salt = stackalloc byte[2 * FrameHeader.NonceSize];
        dialerNonce.CopyTo(salt);
        acceptorNonce.CopyTo(salt[FrameHeader.NonceSize..]);
        Span<byte> info = stackalloc byte[16 + 4 + 24];
        SessionLabel.CopyTo(info);
        BinaryPrimitives.WriteUInt32LittleEndian(info[16..], encrypt ? 1u : 0u);
        BinaryPrimitives.WriteInt32LittleEndian(info[20..], dialerId);
        BinaryPrimitives.WriteInt32LittleEndian(info[24..], acceptorId);
        BinaryPrimitives.WriteUInt64LittleEndian(info[28..], dialerIncarnation);
        BinaryPrimitives.WriteUInt64LittleEndian(info[36..], acceptorIncarnation);
        Span<byte> keys = stackalloc byte[2 * KeySize]; // dialer-to-acceptor key, then acceptor-to-dialer key
        HKDF.DeriveKey(HashAlgorithmName.SHA256, preSharedKey, keys, salt, info);
        try
        {
            return dialer
                ? new FrameProtection(keys[..KeySize], keys[KeySize..], dialer, encrypt)
                : new FrameProtection(keys[KeySize..], keys[..KeySize], dialer, encrypt);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keys);
        }
    }

    /// <summary>
    /// Protects the next outgoing frame: <paramref name="frame"/> is its header and payload (the payload is encrypted in
    /// place when <paramref name="encryptPayload"/> and the mode encrypts); the tag goes to <paramref name="tag"/>.
    /// </summary>
    public void Seal(Span<byte> frame, Span<byte> tag, bool encryptPayload = true)
    {
        ulong counter = _sendCounter++;
        if (SkipTags)
        {
            tag.Clear();
            return;
        }
        if (_sendAead is not null)
        {
            Span<byte> nonce = stackalloc byte[12];
            WriteNonce(nonce, _sendDirection, counter);
            if (encryptPayload)
            {
                var payload = frame[FrameHeader.Size..];
                _sendAead.Encrypt(nonce, payload, payload, tag, frame[..FrameHeader.Size]);
            }
            else
            {
                _sendAead.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tag, frame);
            }
            return;
        }
        Mac(_sendMac!, _sendDirection, counter, frame, tag);
    }

    /// <summary>
    /// Checks the next incoming frame (<paramref name="frame"/> = header and payload as received) against its
    /// <paramref name="tag"/> and writes the plain payload to <paramref name="payload"/>; false if it fails (nothing written).
    /// </summary>
    public bool Open(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> tag, Span<byte> payload, bool payloadEncrypted = true)
    {
        ulong counter = _receiveCounter++;
        if (SkipTags)
        {
            frame[FrameHeader.Size..].CopyTo(payload);
            return true;
        }
        if (_receiveAead is not null)
        {
            Span<byte> nonce = stackalloc byte[12];
            WriteNonce(nonce, _receiveDirection, counter);
            try
            {
                if (payloadEncrypted)
                {
                    _receiveAead.Decrypt(nonce, frame[FrameHeader.Size..], tag, payload, frame[..FrameHeader.Size]);
                }
                else
                {
                    _receiveAead.Decrypt(nonce, ReadOnlySpan<byte>.Empty, tag, Span<byte>.Empty, frame);
                    frame[FrameHeader.Size..].CopyTo(payload);
                }
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                payload.Clear(); // Decrypt already cleared it; say so for the reader
                return false;
            }
        }
        Span<byte> expected = stackalloc byte[TagSize];
        Mac(_receiveMac!, _receiveDirection, counter, frame, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, tag))
            return false;
        frame[FrameHeader.Size..].CopyTo(payload);
        return true;
    }

    public void Dispose()
    {
        _sendMac?.Dispose();
        _receiveMac?.Dispose();
        _sendAead?.Dispose();
        _receiveAead?.Dispose();
    }

    private static void WriteNonce(Span<byte> nonce, uint direction, ulong counter)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(nonce, direction);
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
    }

    private static void Mac(IncrementalHash hmac, uint direction, ulong counter, ReadOnlySpan<byte> frame, Span<byte> tag)
    {
        Span<byte> prefix = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, counter);
        BinaryPrimitives.WriteUInt64LittleEndian(prefix[8..], direction);
        hmac.AppendData(prefix);
        hmac.AppendData(frame);
        Span<byte> full = stackalloc byte[32];
        hmac.TryGetHashAndReset(full, out _);
        full[..TagSize].CopyTo(tag);
    }
}
