using System.Diagnostics;
using HdrHistogram;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// Records every delivery that arrives from another node (the record's tag, source and destination) once it has
/// handed the frame on: to the node's engine (<see cref="EngineSink"/>) or, when the kernel serves local targets, to
/// the kernel's <c>KVM_DSM_IPI</c> path (<see cref="InjectorSink"/>, whose records carry no tag).
/// </summary>
public sealed class TraceArrivals(RemoteDeliverySink next) : RemoteDeliverySink
{
    private readonly Lock _lock = new();
    private readonly List<RemoteDelivery> _arrived = [];
    private readonly LongHistogram _latency = new(TimeSpan.FromMinutes(1).Ticks * 100, 3);

    /// <summary>Deliveries arrived so far.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _arrived.Count;
            }
        }
    }

    /// <summary>A copy of what arrived, in arrival order.</summary>
    public RemoteDelivery[] Arrived
    {
        get
        {
            lock (_lock)
            {
                return [.. _arrived];
            }
        }
    }

    /// <summary>Cross-node latency percentile in microseconds, from each record's post stamp (one host: one clock); 0 with no sample.</summary>
    public double LatencyMicroseconds(double percentile)
    {
        lock (_lock)
        {
            return _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
        }
    }

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        long now = Stopwatch.GetTimestamp();
        // Handed on first, recorded after: once Count reaches what is due, the next sink has taken all of it.
        next.Deliver(fromNode, deliveries);
        lock (_lock)
        {
            foreach (ref readonly RemoteDelivery delivery in deliveries)
            {
                _arrived.Add(delivery);
                if (delivery.PostTimestamp != 0)
                {
                    _latency.RecordValue(Math.Max(0, now - delivery.PostTimestamp));
                }
            }
        }
    }
}
