using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using IpiEngine.Perf.Suite;
using IpiEngine.Transport;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// What a frame tag costs by itself, on one thread: one operation is one 32-byte delivery record (an invocation is
/// <see cref="RecordsPerInvoke"/> records in frames of <see cref="Batch"/>), sealed by the sender and opened by the receiver (both ends' work, as
/// <see cref="LoopbackLinkBenchmarks"/> pays it on two threads). It is the floor under the link benchmark's tagged
/// rows: the link's cost with tags minus without cannot fall below it. <c>Copy</c> (the baseline) only copies the frame
/// once, the least any end does with its bytes; <c>ChaCha20Poly1305</c> is the platform's other AEAD, authenticating
/// the same frame as associated data, for comparison (the protocol does not use it).
/// </summary>
[BenchmarkCategory("Transport", SuiteCategories.SingleThread)]
[MemoryDiagnoser]
public class FrameTagBenchmarks
{
    /// <summary>Records per invocation, whatever the frame size.</summary>
    public const int RecordsPerInvoke = 1024;

    private const int RecordSize = 32;
    private const int HeaderSize = 24;

    private byte[] _frame = null!;
    private byte[] _copy = null!;
    private byte[] _tag = null!;
    private byte[] _nonce = null!;
    private FrameProtection _sender = null!;
    private FrameProtection _receiver = null!;
    private FrameProtection _encryptingSender = null!;
    private FrameProtection _encryptingReceiver = null!;
    private ChaCha20Poly1305 _chaCha = null!;
    private int _frames;

    /// <summary>Records per frame.</summary>
    [Params(64, 1024)]
    public int Batch { get; set; }

    /// <summary>Builds one frame and both ends' keys.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _frames = RecordsPerInvoke / Batch;
        _frame = new byte[HeaderSize + (Batch * RecordSize)];
        RandomNumberGenerator.Fill(_frame);
        _copy = new byte[_frame.Length];
        _tag = new byte[FrameProtection.TagSize];
        _nonce = new byte[12];
        byte[] key = new byte[32];
        byte[] dialerNonce = new byte[32], acceptorNonce = new byte[32];
        RandomNumberGenerator.Fill(key);
        (_sender, _receiver) = Pair(key, dialerNonce, acceptorNonce, encrypt: false);
        (_encryptingSender, _encryptingReceiver) = Pair(key, dialerNonce, acceptorNonce, encrypt: true);
        _chaCha = new ChaCha20Poly1305(key);
    }

    /// <summary>Releases the keys.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _sender.Dispose();
        _receiver.Dispose();
        _encryptingSender.Dispose();
        _encryptingReceiver.Dispose();
        _chaCha.Dispose();
    }

    /// <summary>The least any end does: one copy of the frame.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = RecordsPerInvoke)]
    public int Copy()
    {
        for (int f = 0; f < _frames; f++)
        {
            _frame.AsSpan().CopyTo(_copy);
        }

        return _copy[0];
    }

    /// <summary>The protocol's default: AES-256-GMAC over the whole frame, sealed then opened.</summary>
    [Benchmark(OperationsPerInvoke = RecordsPerInvoke)]
    public bool Gmac()
    {
        bool ok = true;
        for (int f = 0; f < _frames; f++)
        {
            _sender.Seal(_frame, _tag);
            ok &= _receiver.TryOpen(_frame, _tag, default, out _);
        }

        return ok;
    }

    /// <summary>The <c>encrypt</c> switch: AES-256-GCM, payload encrypted in place, then decrypted into a copy.</summary>
    [Benchmark(OperationsPerInvoke = RecordsPerInvoke)]
    public bool AesGcm()
    {
        bool ok = true;
        for (int f = 0; f < _frames; f++)
        {
            _encryptingSender.Seal(_frame, _tag); // the frame stays ciphertext; the next seal encrypts it again
            ok &= _encryptingReceiver.TryOpen(_frame, _tag, _copy, out _);
        }

        return ok;
    }

    /// <summary>For comparison: ChaCha20-Poly1305 authenticating the whole frame (Poly1305), sealed then opened.</summary>
    [Benchmark(OperationsPerInvoke = RecordsPerInvoke)]
    public bool Poly1305()
    {
        for (int f = 0; f < _frames; f++)
        {
            _chaCha.Encrypt(_nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, _tag, _frame);
            _chaCha.Decrypt(_nonce, ReadOnlySpan<byte>.Empty, _tag, Span<byte>.Empty, _frame); // throws if the tag failed
        }

        return true;
    }

    private static (FrameProtection Sender, FrameProtection Receiver) Pair(byte[] key, byte[] dialerNonce, byte[] acceptorNonce, bool encrypt)
        => (FrameProtection.Derive(key, encrypt, dialer: true, dialerNonce, acceptorNonce, 0, 1, 1, 2),
            FrameProtection.Derive(key, encrypt, dialer: false, dialerNonce, acceptorNonce, 0, 1, 1, 2));
}
