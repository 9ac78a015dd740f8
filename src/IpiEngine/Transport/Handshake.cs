using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;

namespace IpiEngine.Transport;

/// <summary>
/// Mutual HMAC-SHA256 challenge–response over the pre-shared key (the key never crosses the wire):
/// Hello (dialer: ids, incarnation, nonce) → Challenge (acceptor: incarnation, nonce, proof) →
/// Auth (dialer: proof, resume state) → Welcome (acceptor: resume state). Each proof covers both nonces,
/// both node ids, both incarnations and a role label, so neither proof can be replayed or reflected. Once the
/// acceptor's proof checks out, both sides derive the connection's <see cref="FrameProtection"/>: Auth and Welcome
/// (which carry the resume state) end with a tag under it, and so does every frame after them.
/// </summary>
internal static class Handshake
{
    private static readonly byte[] AcceptorLabel = Encoding.ASCII.GetBytes("IPIF acceptor v3");
    private static readonly byte[] DialerLabel = Encoding.ASCII.GetBytes("IPIF dialer   v3");

    /// <summary>
    /// What the acceptor learned from a dialer that proved the key. <paramref name="HelloOrder"/>: where its Hello came
    /// among the Hellos naming that peer (<see cref="PeerLink.OrderHello"/>), the order in which its handshakes compete.
    /// </summary>
    public readonly record struct Accepted(int PeerNode, ulong PeerIncarnation, ResumeState PeerResume, long HelloOrder);

    /// <summary>What the dialer learned from an acceptor that proved the key.</summary>
    public readonly record struct Dialed(ulong PeerIncarnation, ResumeState PeerResume);

    /// <summary>Dialer side. <paramref name="resume"/> is asked for this node's state once the peer is known.</summary>
    public static async Task<Dialed> DialAsync(LinkConnection c, int self, int peer, ulong incarnation, ReadOnlyMemory<byte> key,
        bool encrypt, Func<ResumeState> resume, CancellationToken ct)
    {
        byte[] nonce = RandomNumberGenerator.GetBytes(FrameHeader.NonceSize);
        byte[] hello = new byte[FrameHeader.FixedPayloadLength(FrameKind.Hello)];
        BinaryPrimitives.WriteInt32LittleEndian(hello, self);
        BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(4), peer);
        BinaryPrimitives.WriteUInt64LittleEndian(hello.AsSpan(8), incarnation);
        nonce.CopyTo(hello.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(16 + FrameHeader.NonceSize), encrypt ? 1u : 0u);
        FrameWriter.WriteControl(c.Writer, FrameKind.Hello, hello);
        await c.Writer.FlushAsync(ct).ConfigureAwait(false);

        byte[] challenge = (await ReadAsync(c.Reader, FrameKind.Challenge, null, ct).ConfigureAwait(false))[FrameHeader.Size..];
        int acceptor = BinaryPrimitives.ReadInt32LittleEndian(challenge);
        ulong peerIncarnation = BinaryPrimitives.ReadUInt64LittleEndian(challenge.AsSpan(8));
        var peerNonce = challenge.AsSpan(16, FrameHeader.NonceSize);
        if (acceptor != peer)
            throw new LinkProtocolException(LinkFault.UnknownNode, $"dialed node {peer} but node {acceptor} answered");
        Span<byte> expected = stackalloc byte[FrameHeader.MacSize];
        Prove(key, AcceptorLabel, nonce, peerNonce, self, peer, incarnation, peerIncarnation, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, challenge.AsSpan(16 + FrameHeader.NonceSize, FrameHeader.MacSize)))
            throw new LinkProtocolException(LinkFault.WrongKey, $"node {peer} could not prove it holds this VM's key");

        var protection = FrameProtection.Derive(key.Span, encrypt, dialer: true, nonce, peerNonce, self, peer, incarnation, peerIncarnation);
        try
        {
            byte[] auth = new byte[FrameHeader.FixedPayloadLength(FrameKind.Auth)];
            Prove(key, DialerLabel, nonce, challenge.AsSpan(16, FrameHeader.NonceSize), self, peer, incarnation, peerIncarnation, auth);
            resume().Write(auth.AsSpan(FrameHeader.MacSize));
            FrameWriter.WriteControl(c.Writer, FrameKind.Auth, auth, protection);
            await c.Writer.FlushAsync(ct).ConfigureAwait(false);

            byte[] welcome;
            try
            {
                welcome = await ReadAsync(c.Reader, FrameKind.Welcome, protection, ct).ConfigureAwait(false);
            }
            catch (LinkProtocolException e) when (e.Fault == LinkFault.ProtectionMismatch) // only a sealed refusal says it
            {
                throw new LinkProtocolException(LinkFault.ProtectionMismatch, MismatchMessage(peer, !encrypt, encrypt), peer);
            }
            var peerResume = OpenTagged(protection, welcome, peer);
            c.Protection = protection; // the connection's from here: a refusal below is sealed with it, and it disposes it
            return new Dialed(peerIncarnation, ResumeState.Read(peerResume));
        }
        catch
        {
            if (c.Protection != protection)
            {
                protection.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Acceptor side up to the dialer's proof; the link sends the welcome once it owns the connection. <paramref name="orderHello"/>
    /// numbers a Hello from a peer that dials this node (from 1, in the order they come), or returns 0 for any other id.
    /// </summary>
    public static async Task<Accepted> AcceptAsync(LinkConnection c, int self, ulong incarnation, ReadOnlyMemory<byte> key,
        bool encrypt, Func<int, long> orderHello, CancellationToken ct)
    {
        byte[] hello = (await ReadAsync(c.Reader, FrameKind.Hello, null, ct).ConfigureAwait(false))[FrameHeader.Size..];
        int dialer = BinaryPrimitives.ReadInt32LittleEndian(hello);
        int target = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(4));
        ulong peerIncarnation = BinaryPrimitives.ReadUInt64LittleEndian(hello.AsSpan(8));
        var peerNonce = hello.AsSpan(16, FrameHeader.NonceSize).ToArray();
        if (target != self)
            throw new LinkProtocolException(LinkFault.UnknownNode, $"a peer dialed node {target} but this is node {self}");
        // Numbered before the Challenge goes out: an incarnation of the peer can answer it only while alive, so any later
        // incarnation's Hello comes after this one and gets a higher number (PeerLink.RunAcceptedAsync).
        long helloOrder = orderHello(dialer);
        if (helloOrder == 0)
            throw new LinkProtocolException(LinkFault.UnknownNode, $"node {dialer} is not a peer that dials node {self}");
        uint mode = BinaryPrimitives.ReadUInt32LittleEndian(hello.AsSpan(16 + FrameHeader.NonceSize));
        if (mode > 1)
            throw new LinkProtocolException(LinkFault.ProtectionMismatch, $"node {dialer} asks for frame protection mode {mode}, which this node does not know", dialer);
        // A known mode that differs from this node's is refused only once the dialer proved the key, with a goodbye sealed
        // under the keys of the dialer's mode: the dialer can check it and report the mismatch, not a lost connection.
        bool dialerEncrypts = mode == 1;

        byte[] nonce = RandomNumberGenerator.GetBytes(FrameHeader.NonceSize);
        byte[] challenge = new byte[FrameHeader.FixedPayloadLength(FrameKind.Challenge)];
        BinaryPrimitives.WriteInt32LittleEndian(challenge, self);
        BinaryPrimitives.WriteUInt64LittleEndian(challenge.AsSpan(8), incarnation);
        nonce.CopyTo(challenge.AsSpan(16));
        Prove(key, AcceptorLabel, peerNonce, nonce, dialer, self, peerIncarnation, incarnation, challenge.AsSpan(16 + FrameHeader.NonceSize));
        FrameWriter.WriteControl(c.Writer, FrameKind.Challenge, challenge);
        await c.Writer.FlushAsync(ct).ConfigureAwait(false);

        byte[] auth = await ReadAsync(c.Reader, FrameKind.Auth, null, ct).ConfigureAwait(false); // no keys yet: the dialer's goodbyes before Welcome carry no tag
        if (!ProofMatches(key, peerNonce, nonce, dialer, self, peerIncarnation, incarnation, auth.AsSpan(FrameHeader.Size, FrameHeader.MacSize)))
            throw new LinkProtocolException(LinkFault.WrongKey, $"node {dialer} could not prove it holds this VM's key", dialer);
        var protection = FrameProtection.Derive(key.Span, dialerEncrypts, dialer: false, peerNonce, nonce, dialer, self, peerIncarnation, incarnation);
        try
        {
            var payload = OpenTagged(protection, auth, dialer);
            c.Protection = protection; // the connection's from here: the refusal of a bad resume block or a mismatch is sealed with it
            if (dialerEncrypts != encrypt)
                throw new LinkProtocolException(LinkFault.ProtectionMismatch, MismatchMessage(dialer, dialerEncrypts, encrypt), dialer);
            return new Accepted(dialer, peerIncarnation, ResumeState.Read(payload.AsSpan(FrameHeader.MacSize)), helloOrder);
        }
        catch
        {
            if (c.Protection != protection)
            {
                protection.Dispose(); // disposed here once, or by the connection, never both
            }

            throw;
        }
    }

    private static bool ProofMatches(ReadOnlyMemory<byte> key, ReadOnlySpan<byte> dialerNonce, ReadOnlySpan<byte> acceptorNonce, int dialer, int acceptor,
        ulong dialerIncarnation, ulong acceptorIncarnation, ReadOnlySpan<byte> proof)
    {
        Span<byte> expected = stackalloc byte[FrameHeader.MacSize];
        Prove(key, DialerLabel, dialerNonce, acceptorNonce, dialer, acceptor, dialerIncarnation, acceptorIncarnation, expected);
        return CryptographicOperations.FixedTimeEquals(expected, proof);
    }

    private static string MismatchMessage(int peer, bool peerEncrypts, bool selfEncrypts)
        => $"node {peer} {(peerEncrypts ? "encrypts" : "does not encrypt")} frames but this node {(selfEncrypts ? "does" : "does not")} (set the same \"encrypt\" on both)";

    /// <summary>Checks the tag that ends a whole Auth or Welcome <paramref name="frame"/>; returns its payload without the tag.</summary>
    private static byte[] OpenTagged(FrameProtection protection, byte[] frame, int peer)
    {
        int tagAt = frame.Length - FrameProtection.TagSize;
        if (!protection.TryOpen(frame.AsSpan(0, tagAt), frame.AsSpan(tagAt), Span<byte>.Empty, out var payload, payloadEncrypted: false))
            throw new LinkProtocolException(LinkFault.BadMac, $"the handshake frame from node {peer} failed authentication", peer);
        return payload.ToArray();
    }

    /// <summary>Acceptor: the last handshake frame.</summary>
    public static async Task WelcomeAsync(LinkConnection c, ResumeState resume, CancellationToken ct)
    {
        byte[] welcome = new byte[FrameHeader.FixedPayloadLength(FrameKind.Welcome)];
        resume.Write(welcome);
        FrameWriter.WriteControl(c.Writer, FrameKind.Welcome, welcome, c.Protection);
        await c.Writer.FlushAsync(ct).ConfigureAwait(false);
    }

    private static void Prove(ReadOnlyMemory<byte> key, byte[] label, ReadOnlySpan<byte> dialerNonce, ReadOnlySpan<byte> acceptorNonce,
        int dialer, int acceptor, ulong dialerIncarnation, ulong acceptorIncarnation, Span<byte> mac)
    {
        Span<byte> message = stackalloc byte[16 + 2 * FrameHeader.NonceSize + 24];
        label.CopyTo(message);
        dialerNonce.CopyTo(message[16..]);
        acceptorNonce.CopyTo(message[(16 + FrameHeader.NonceSize)..]);
        var tail = message[(16 + 2 * FrameHeader.NonceSize)..];
        BinaryPrimitives.WriteInt32LittleEndian(tail, dialer);
        BinaryPrimitives.WriteInt32LittleEndian(tail[4..], acceptor);
        BinaryPrimitives.WriteUInt64LittleEndian(tail[8..], dialerIncarnation);
        BinaryPrimitives.WriteUInt64LittleEndian(tail[16..], acceptorIncarnation);
        HMACSHA256.HashData(key.Span, message, mac);
    }

    /// <summary>
    /// Reads one whole frame (header and payload) of kind <paramref name="expected"/>. A goodbye instead ends the handshake
    /// (<see cref="Refusal"/>): once this side holds the connection's <paramref name="protection"/> (the dialer awaiting
    /// Welcome), the acceptor may have refused with a tagged goodbye, so its tag is awaited until the stream ends.
    /// </summary>
    private static async Task<byte[]> ReadAsync(PipeReader reader, FrameKind expected, FrameProtection? protection, CancellationToken ct)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (FrameHeader.TryRead(buffer, out var header))
            {
                long length = FrameHeader.Size + header.PayloadLength;
                bool goodbye = header.Kind == FrameKind.Goodbye;
                long tagged = goodbye && protection is not null ? length + FrameProtection.TagSize : length;
                // A goodbye whose tag never came (the stream ended after it): sent before the acceptor had keys.
                long whole = buffer.Length >= tagged ? tagged : goodbye && result.IsCompleted && buffer.Length >= length ? length : -1;
                if (whole >= 0)
                {
                    byte[] frame = buffer.Slice(0, whole).ToArray();
                    reader.AdvanceTo(buffer.GetPosition(whole));
                    if (goodbye)
                        throw Refusal(frame, whole == tagged ? protection : null);
                    if (header.Kind != expected)
                        throw new LinkProtocolException(LinkFault.UnexpectedFrame, $"expected a {expected} frame, got {header.Kind}");
                    return frame;
                }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new LinkProtocolException(buffer.IsEmpty ? LinkFault.ConnectionLost : LinkFault.TruncatedFrame, "the peer closed the connection during the handshake");
        }
    }

    /// <summary>
    /// The fault a handshake goodbye ends with. Only a tagged one (the acceptor's refusal once both sides derived the
    /// keys, sealed and in AES-GCM mode encrypted like any frame after the handshake) proves the peer said it: its reason
    /// is the fault. An untagged one may come from anyone who can reach the port or sits on the path, so its claim is
    /// only logged: believed, it let anyone raise any fault counter and set a link's last fault (a TopologyMismatch or
    /// SinkFailed slows the dialer's redial). It is a lost connection to this node's link, but counted apart from one
    /// (<see cref="LinkProtocolException.Unauthenticated"/>): a peer holding another key (or someone who is no peer)
    /// refuses that way, and an operator must tell that from a flaky network.
    /// </summary>
    private static LinkProtocolException Refusal(byte[] frame, FrameProtection? protection)
    {
        if (protection is null)
        {
            var claim = (LinkFault)BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(FrameHeader.Size));
            return new LinkProtocolException(LinkFault.ConnectionLost, $"the handshake was rejected with an untagged goodbye (it says {claim}; not counted as that, anyone could have sent it)")
            {
                Unauthenticated = true,
            };
        }
        int tagAt = frame.Length - FrameProtection.TagSize;
        Span<byte> decrypted = stackalloc byte[4];
        if (!protection.TryOpen(frame.AsSpan(0, tagAt), frame.AsSpan(tagAt), decrypted, out var payload))
            return new LinkProtocolException(LinkFault.BadMac, "the peer's goodbye during the handshake failed authentication");
        var reason = (LinkFault)BinaryPrimitives.ReadUInt32LittleEndian(payload);
        return new LinkProtocolException(Enum.IsDefined(reason) ? reason : LinkFault.UnexpectedFrame, $"peer refused the handshake: {reason}");
    }
}
