using System.Diagnostics;
using IpiEngine.Cli.Run;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.Nodes;

/// <summary>
/// Counts what arrives from other nodes per (source vCPU, destination vCPU) pair in the receive path, before the
/// engine coalesces vectors into descriptors, plus arrivals that name a vCPU not on this node or a source not on the
/// sending node (misrouted), and a latency histogram from each delivery's post timestamp (one host: one clock).
/// Each frame is handed to the next sink (the node's engine) before it is counted.
/// </summary>
internal sealed class NodeArrivals : RemoteDeliverySink
{
    private readonly Lock _lock = new(); // one lock per frame (links call concurrently), not per record
    private readonly int[] _nodeOfVcpu; // a copy: indexed twice per arrival, an array's load instead of an interface call
    private readonly int _self;
    private readonly long[] _pairs;
    private readonly LatencyHistogram _latency = new();
    private readonly RemoteDeliverySink? _nextSink;
    private long _total, _misrouted;

    /// <summary>Creates the count for node <paramref name="self"/>, passing every frame on to <paramref name="next"/>.</summary>
    public NodeArrivals(IReadOnlyList<int> nodeOfVcpu, int self, RemoteDeliverySink? next = null)
    {
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        _nodeOfVcpu = [.. nodeOfVcpu];
        _self = self;
        _nextSink = next;
        _pairs = new long[_nodeOfVcpu.Length * _nodeOfVcpu.Length];
    }

    /// <summary>Deliveries received (all pairs, misrouted included).</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Deliveries naming a vCPU that is not here, or a source that is not on the sending node.</summary>
    public long Misrouted => Interlocked.Read(ref _misrouted);

    /// <summary>Deliveries received from <paramref name="source"/> at <paramref name="destination"/>.</summary>
    public long Pair(int source, int destination)
    {
        lock (_lock)
            return _pairs[source * _nodeOfVcpu.Length + destination];
    }

    /// <summary>Post-to-arrival latency of what arrived, in the shape of a single-node run's <c>latencyNs</c>.</summary>
    public LatencySummary LatencyNs()
    {
        lock (_lock)
            return _latency.Summarize();
    }

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        long now = Stopwatch.GetTimestamp();
        // Handed on first, counted after: once Total reaches what is due, the next sink (the engine) has taken all of it,
        // so a node that stops its engine as soon as Total is complete never stops it under an arrival still on its way.
        _nextSink?.Deliver(fromNode, deliveries);
        int[] nodeOf = _nodeOfVcpu;
        int vcpus = nodeOf.Length;
        long[] pairs = _pairs;
        long misrouted = 0;
        lock (_lock)
        {
            foreach (ref readonly var d in deliveries)
            {
                uint source = d.SourceVcpu, destination = d.DestinationVcpu;
                if (source >= (uint)vcpus || destination >= (uint)vcpus || nodeOf[destination] != _self || nodeOf[source] != fromNode)
                {
                    misrouted++;
                    continue;
                }
                pairs[(source * (uint)vcpus) + destination]++;
                if (d.PostTimestamp != 0) // one post in LatencySampleInterval is stamped
                {
                    _latency.RecordTicks(d.PostTimestamp, now);
                }
            }
            // Counted once per frame, inside the lock: Total is read to decide when everything due has arrived.
            _total += deliveries.Length;
            _misrouted += misrouted;
        }
    }
}
