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
    private readonly IReadOnlyList<int> _nodeOfVcpu;
    private readonly int _self;
    private readonly long[] _pairs;
    private readonly LatencyHistogram _latency = new();
    private readonly RemoteDeliverySink? _nextSink;
    private long _total, _misrouted;

    /// <summary>Creates the count for node <paramref name="self"/>, passing every frame on to <paramref name="next"/>.</summary>
    public NodeArrivals(IReadOnlyList<int> nodeOfVcpu, int self, RemoteDeliverySink? next = null)
    {
        ArgumentNullException.ThrowIfNull(nodeOfVcpu);
        _nodeOfVcpu = nodeOfVcpu;
        _self = self;
        _nextSink = next;
        _pairs = new long[nodeOfVcpu.Count * nodeOfVcpu.Count];
    }

    /// <summary>Deliveries received (all pairs, misrouted included).</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Deliveries naming a vCPU that is not here, or a source that is not on the sending node.</summary>
    public long Misrouted => Interlocked.Read(ref _misrouted);

    /// <summary>Deliveries received from <paramref name="source"/> at <paramref name="destination"/>.</summary>
    public long Pair(int source, int destination)
    {
        lock (_lock)
            return _pairs[source * _nodeOfVcpu.Count + destination];
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
        int vcpus = _nodeOfVcpu.Count;
        lock (_lock)
        {
            foreach (ref readonly var d in deliveries)
            {
                _total++;
                if (d.SourceVcpu >= (uint)vcpus || d.DestinationVcpu >= (uint)vcpus
                    || _nodeOfVcpu[(int)d.DestinationVcpu] != _self || _nodeOfVcpu[(int)d.SourceVcpu] != fromNode)
                {
                    _misrouted++;
                    continue;
                }
                _pairs[d.SourceVcpu * vcpus + d.DestinationVcpu]++;
                _latency.RecordTicks(d.PostTimestamp, now);
            }
        }
    }
}
