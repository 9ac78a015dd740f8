using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace IpiEngine.Transport;

/// <summary>
/// The per-connection keys and frame counters that authenticate (and optionally encrypt) every frame from the
/// handshake's Auth and Welcome on. Keys come from HKDF-SHA256 over the pre-shared key, salted with both handshake
/// nonces, one key per direction; each direction counts its frames from 0, and the counter and the direction are
/// bound into every tag, so a frame altered, replayed, reordered, reflected or spliced from another connection fails.
/// Both modes use AES-256-GCM with nonce = direction (u32) ‖ counter (u64) and a 16-byte tag. Mode MAC (the default)
/// is GMAC: nothing is encrypted, the whole frame (header and payload) is the associated data. Mode AES-GCM encrypts
/// the payload, the header as associated data. (GMAC replaced protocol v3's HMAC-SHA256, which cost about 9% of both
/// cores of a 2-node run: GHASH with carry-less multiply runs about 3x faster here than SHA-256.) Nothing is allocated
/// per frame. Layout: <c>docs/wire-format.md</c>.
/// </summary>
internal sealed class FrameProtection : IDisposable
{
    /// <summary>Bytes of the tag that follows each protected frame.</summary>
    public const int TagSize = 16;

    private const int KeySize = 32;
    private static readonly byte[] SessionLabel = Encoding.ASCII.GetBytes("IPIF session v4 ");

    private readonly AesGcm _sendAead, _receiveAead;
    private readonly bool _encrypt;
    private readonly uint _sendDirection, _receiveDirection;
    private ulong _sendCounter, _receiveCounter;

    private FrameProtection(ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, bool dialer, bool encrypt)
    {
        _sendDirection = dialer ? 1u : 2u;
        _receiveDirection = dialer ? 2u : 1u;
        _encrypt = encrypt;
        _sendAead = new AesGcm(sendKey, TagSize);
        _receiveAead = new AesGcm(receiveKey, TagSize);
    }

    /// <summary>Whether payloads are encrypted (AES-GCM) rather than only authenticated (GMAC).</summary>
    public bool Encrypts => _encrypt;

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
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, _sendDirection, counter);
        if (_encrypt && encryptPayload)
        {
            var payload = frame[FrameHeader.Size..];
            _sendAead.Encrypt(nonce, payload, payload, tag, frame[..FrameHeader.Size]);
        }
        else
        {
            _sendAead.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tag, frame); // GMAC over the whole frame
        }
    }

    /// <summary>
    /// Checks the next incoming frame (<paramref name="frame"/> = header and payload as received) against its
    /// <paramref name="tag"/> and returns its plain <paramref name="payload"/>: the frame's own bytes when the payload
    /// travels in clear (GMAC, or <paramref name="payloadEncrypted"/> false), so nothing is copied; else decrypted into
    /// <paramref name="decrypted"/>. False if the tag fails (then <paramref name="payload"/> is empty and nothing was decrypted).
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> tag, Span<byte> decrypted, out ReadOnlySpan<byte> payload, bool payloadEncrypted = true)
    {
        ulong counter = _receiveCounter++;
        var clear = frame[FrameHeader.Size..];
        if (SkipTags)
        {
            payload = clear;
            return true;
        }
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, _receiveDirection, counter);
        try
        {
            if (_encrypt && payloadEncrypted)
            {
                var plain = decrypted[..clear.Length];
                _receiveAead.Decrypt(nonce, clear, tag, plain, frame[..FrameHeader.Size]);
                payload = plain;
            }
            else
            {
                _receiveAead.Decrypt(nonce, ReadOnlySpan<byte>.Empty, tag, Span<byte>.Empty, frame); // GMAC: checks the tag in constant time
                payload = clear;
            }
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            if (_encrypt && payloadEncrypted)
                decrypted[..clear.Length].Clear(); // nothing of a failed frame stays readable
            payload = default;
            return false;
        }
    }

    public void Dispose()
    {
        _sendAead.Dispose();
        _receiveAead.Dispose();
    }

    private static void WriteNonce(Span<byte> nonce, uint direction, ulong counter)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(nonce, direction);
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
    }
}
