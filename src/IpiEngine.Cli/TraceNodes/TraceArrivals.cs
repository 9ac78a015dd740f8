using System.Diagnostics;
using IpiEngine.Cli.Run;
using IpiEngine.Delivery;
using IpiEngine.Transport;

namespace IpiEngine.Cli.TraceNodes;

/// <summary>
/// Records every delivery that arrives from another node (the record's tag, source and destination) once it has
/// handed the frame on: to the node's engine (<see cref="EngineSink"/>) or, when the kernel serves local targets, to
/// the kernel's <c>KVM_DSM_IPI</c> path (<see cref="SourceModeInjectorSink"/>, whose records carry no tag).
/// </summary>
internal sealed class TraceArrivals(RemoteDeliverySink next) : RemoteDeliverySink
{
    private readonly Lock _lock = new();
    private readonly List<RemoteDelivery> _arrived = [];
    private readonly LatencyHistogram _latency = new();

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

    /// <summary>Cross-node latency from each record's post stamp (one host: one clock), in the shape of a single-node run's <c>latencyNs</c>.</summary>
    public LatencySummary LatencyNs()
    {
        lock (_lock)
        {
            return _latency.Summarize();
        }
    }

    /// <inheritdoc/>
    public override void Deliver(int fromNode, ReadOnlySpan<RemoteDelivery> deliveries)
    {
        long now = Stopwatch.GetTimestamp();
        // Handed on first, recorded after: once Count reaches what is due, the next sink has taken all of it.
        try
        {
            next.Deliver(fromNode, deliveries);
        }
        catch (PartlyAppliedException partly)
        {
            Record(deliveries[..partly.Applied], now); // the link takes those as applied and is handed only the rest again
            throw;
        }

        Record(deliveries, now);
    }

    private void Record(ReadOnlySpan<RemoteDelivery> deliveries, long now)
    {
        lock (_lock)
        {
            foreach (ref readonly RemoteDelivery delivery in deliveries)
            {
                _arrived.Add(delivery);
                _latency.RecordTicks(delivery.PostTimestamp, now);
            }
        }
    }
}
