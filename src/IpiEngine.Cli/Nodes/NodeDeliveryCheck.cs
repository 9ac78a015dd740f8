using System.Diagnostics;
using HdrHistogram;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// A sink that checks the <see cref="NodeWorkload"/> stream as it arrives: per source vCPU the next tag expected,
/// and counts of records in order, repeated (duplicate), skipped ahead (lost before them) or at the wrong vCPU;
/// plus a latency histogram from each record's post timestamp (valid when sender and receiver share a clock: one host).
/// Then it hands the frame on to the next sink (the node's engine), if any.
/// </summary>
public sealed class NodeDeliveryCheck : RemoteDeliverySink
{
    private readonly Lock _lock = new(); // one lock per frame (links call concurrently), not per record
    private readonly IReadOnlyList<int> _nodeOfVcpu;
    private readonly uint[] _local;
    private readonly ulong[] _next;
    private readonly LongHistogram _latency = new(TimeSpan.FromMinutes(1).Ticks * 100, 3);
    private readonly RemoteDeliverySink? _nextSink;
    private long _inOrder, _repeated, _skipped, _misrouted;

    /// <summary>Creates the check for node <paramref name="self"/>, passing every frame on to <paramref name="next"/>.</summary>
    public NodeDeliveryCheck(IReadOnlyList<int> nodeOfVcpu, int self, RemoteDeliverySink? next = null)
    {
        _nextSink = next;
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        _nodeOfVcpu = nodeOfVcpu;
        _local = NodeWorkload.VcpusOf(nodeOfVcpu, self);
        _next = new ulong[nodeOfVcpu.Count];
    }

    /// <summary>Records received in order, each exactly once.</summary>
    public long InOrder => Interlocked.Read(ref _inOrder);
    /// <summary>Records whose tag was already seen from that source.</summary>
    public long Repeated => Interlocked.Read(ref _repeated);
    /// <summary>Records missing: tags jumped over.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);
    /// <summary>Records that arrived at a vCPU the workload did not send them to.</summary>
    public long Misrouted => Interlocked.Read(ref _misrouted);

    /// <summary>Latency percentile in microseconds.</summary>
    public double LatencyMicroseconds(double percentile)
    {
        lock (_lock)
            return _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
    }

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            foreach (ref readonly var d in deliveries)
            {
                ulong expected = _next[d.SourceVcpu];
                if (d.Tag < expected)
                {
                    _repeated++;
                    continue;
                }
                if (d.Tag > expected)
                    _skipped += (long)(d.Tag - expected);
                _next[d.SourceVcpu] = d.Tag + 1;
                if (NodeWorkload.Make(d.SourceVcpu, d.Tag, _local).DestinationVcpu != d.DestinationVcpu || _nodeOfVcpu[(int)d.SourceVcpu] != fromNode)
                    _misrouted++;
                else
                    _inOrder++;
                if (d.PostTimestamp != 0)
                    _latency.RecordValue(Math.Max(0, now - d.PostTimestamp));
            }
        }
        _nextSink?.Deliver(fromNode, deliveries);
    }
}
