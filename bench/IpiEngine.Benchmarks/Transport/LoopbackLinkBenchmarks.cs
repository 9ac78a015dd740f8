using System.Diagnostics;
using System.Net;
using BenchmarkDotNet.Attributes;
using HdrHistogram;
using IpiEngine.Delivery;
using IpiEngine.Perf.Suite;
using IpiEngine.Transport;

namespace IpiEngine.Benchmarks.Transport;

/// <summary>
/// Cross-node forwarding over one loopback link: node 0 forwards batches of delivery records to node 1 (two
/// <see cref="NodeTransport"/>s in this process, one TCP connection), and one operation is one record applied by node 1.
/// Each invocation forwards <see cref="Records"/> records and waits until the receiver has applied them all, so
/// IPIs/s = 1 / mean. The receiver records each record's latency (post on node 0 to apply on node 1) into a histogram
/// printed as p50/p99 at cleanup. Goal: at least 5 million IPIs/s and 0 bytes allocated per forwarded IPI
/// (tagged ZeroAlloc: the CI smoke run fails if forwarding allocates).
/// </summary>
[BenchmarkCategory("Transport")]
[MemoryDiagnoser]
public class LoopbackLinkBenchmarks
{
    /// <summary>Records per invocation.</summary>
    public const int Records = 1 << 18;

    private NodeTransport _sender = null!;
    private NodeTransport _receiver = null!;
    private CountingSink _sink = null!;
    private RemoteDelivery[] _batch = null!;

    /// <summary>Records per forward call (what the engine's batch stage hands over per destination node).</summary>
    [Params(64, 1024)]
    public int Batch { get; set; }

    /// <summary>What protects each frame after the handshake.</summary>
    public enum FrameTags
    {
        /// <summary>Benchmark only: zero tags, not checked (the reference the other two are measured against, same run).</summary>
        Untagged,
        /// <summary>The default: a 16-byte AES-256-GMAC tag per frame (the frame is authenticated, not encrypted).</summary>
        Gmac,
        /// <summary><c>encrypt</c>: AES-256-GCM, payload encrypted.</summary>
        AesGcm,
    }

    /// <summary>
    /// Frame protection (protocol v3 tags every frame). The goal: tags cost at most 10% with 1024-record
    /// frames, that is Gmac within 1.1x of Untagged in the same run.
    /// </summary>
    [Params(FrameTags.Untagged, FrameTags.Gmac, FrameTags.AesGcm)]
    public FrameTags Tags { get; set; }

    /// <summary>Starts both nodes and waits for the link.</summary>
    [GlobalSetup]
    public void Setup()
    {
        int[] placement = [0, 1];
        byte[] key = new byte[32];
        _sink = new CountingSink();
        _receiver = new NodeTransport(new TransportOptions { NodeId = 1, NodeOfVcpu = placement, Key = key, Peers = [new PeerAddress(0)], Encrypt = Tags == FrameTags.AesGcm, UntaggedFramesForBenchmarks = Tags == FrameTags.Untagged });
        _receiver.Start(_sink);
        _sender = new NodeTransport(new TransportOptions { NodeId = 0, NodeOfVcpu = placement, Key = key, Peers = [new PeerAddress(1, _receiver.LocalEndPoint)], Encrypt = Tags == FrameTags.AesGcm, UntaggedFramesForBenchmarks = Tags == FrameTags.Untagged });
        _sender.Start(new CountingSink());
        LinkWait.Until(() => _sender.Link(1).IsConnected, "the loopback link was");
        _batch = new RemoteDelivery[Batch];
    }

    /// <summary>Forwards <see cref="Records"/> records and waits until all are applied on the far side.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    [BenchmarkCategory(SuiteCategories.CrossThread, SuiteCategories.ZeroAlloc)]
    public void ForwardOverLoopback()
    {
        long target = _sink.Applied + Records;
        var link = _sender.Link(1);
        for (int sent = 0; sent < Records; sent += _batch.Length)
        {
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < _batch.Length; i++)
                _batch[i] = new RemoteDelivery((ulong)(sent + i), now, 0, 1, 0xFD, 1);
            link.Forward(_batch);
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _sink.Applied) < target)
            spin.SpinOnce();
    }

    /// <summary>
    /// Latency alone: forward one batch and wait until it is applied (one operation = one batch, so the mean is the
    /// one-way time of a batch over an idle link, including the wake-up of the send loop).
    /// </summary>
    [Benchmark]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void ForwardOneBatchAndWait()
    {
        long target = FillOneBatch();
        _sender.Link(1).Forward(_batch);
        WaitUntilApplied(target);
    }

    /// <summary>
    /// <see cref="ForwardOneBatchAndWait"/> with the send on this thread: the batch is forwarded inside a send batch
    /// (<see cref="SendBatch"/>) and flushed at once, so the frame goes out on the forwarding thread while the link's
    /// send loop stays parked, instead of waking that loop through the thread pool (the same run's
    /// <see cref="ForwardOneBatchAndWait"/> is the reference).
    /// </summary>
    [Benchmark]
    [BenchmarkCategory(SuiteCategories.CrossThread)]
    public void ForwardOneBatchFlushAndWait()
    {
        long target = FillOneBatch();
        using (var batch = _sender.BeginSendBatch())
        {
            _sender.Link(1).Forward(_batch);
            batch.Flush();
        }
        WaitUntilApplied(target);
    }

    /// <summary>Stamps one batch of records now; returns the applied count that means the receiver has them all.</summary>
    private long FillOneBatch()
    {
        long target = _sink.Applied + _batch.Length;
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < _batch.Length; i++)
            _batch[i] = new RemoteDelivery((ulong)i, now, 0, 1, 0xFD, 1);
        return target;
    }

    /// <summary>Spins (never sleeps) until the receiver has applied <paramref name="target"/> records.</summary>
    private void WaitUntilApplied(long target)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _sink.Applied) < target)
            spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Prints the latency percentiles and stops both nodes.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// latency over one loopback link, batch {Batch}: p50 {_sink.Percentile(50):0.0} us, p99 {_sink.Percentile(99):0.0} us");
        _sender.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _receiver.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Counts applied records and histograms their latency; allocation-free per frame.</summary>
    private sealed class CountingSink : RemoteDeliverySink
    {
        private readonly LongHistogram _latency = new(Stopwatch.Frequency * 60, 3);
        public long Applied;

        public double Percentile(double p) => _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(p) * 1e6 / Stopwatch.Frequency;

        public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
        {
            long now = Stopwatch.GetTimestamp();
            foreach (ref readonly var d in deliveries)
                _latency.RecordValue(Math.Max(0, now - d.PostTimestamp));
            Volatile.Write(ref Applied, Applied + deliveries.Length); // one link calls: a single writer
        }
    }
}
