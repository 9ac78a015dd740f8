using System.Diagnostics.Metrics;

namespace IpiEngine.Transport;

/// <summary>
/// Publishes every started <see cref="NodeTransport"/>'s link counters through <c>System.Diagnostics.Metrics</c>
/// observable counters on the meter <c>IpiEngine.Transport</c>, tagged with the node and the peer (faults: with the
/// reason). Read on collection only: nothing on the forwarding path.
/// </summary>
public static class TransportMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "IpiEngine.Transport";

    private static readonly Lock Gate = new();
    private static readonly List<NodeTransport> Nodes = [];
    private static readonly Meter Meter = new(MeterName);

    static TransportMetrics()
    {
        Observe("ipi.link.forwarded", "Records handed to the link", static c => c.Forwarded);
        Observe("ipi.link.acknowledged", "Records the peer acknowledged", static c => c.Acknowledged);
        Observe("ipi.link.sent", "Records written to the connection (resends included)", static c => c.RecordsSent);
        Observe("ipi.link.applied", "Records received and applied once", static c => c.Applied);
        Observe("ipi.link.duplicates", "Resent records discarded on arrival", static c => c.Duplicates);
        Observe("ipi.link.abandoned", "Records not queued because the node or its engine stopped while the queue was full", static c => c.Abandoned);
        Observe("ipi.link.unreachable", "Records refused: the peer was declared unreachable (full queue, policy fail)", static c => c.Unreachable);
        Meter.CreateObservableCounter("ipi.link.stalled", () => MeasureLinks(static c => c.Stalled.TotalSeconds), unit: "s",
            description: "Time forwarding waited for room in the peer's full queue (policy wait)");
        Meter.CreateObservableCounter("ipi.link.state_time", MeasureStateTimes, unit: "s",
            description: "Time the link spent in each state (down, reconnecting, connected, back-pressured)");
        Meter.CreateObservableGauge("ipi.link.state", () => MeasureLinks(static c => (long)c.State), unit: "{state}",
            description: "The link's state now: 0 down, 1 reconnecting, 2 connected, 3 back-pressured");
        Meter.CreateObservableCounter("ipi.link.connections", () => MeasureLinks(static c => c.Connections), unit: "{connection}",
            description: "Authenticated connections of the link");
        Meter.CreateObservableCounter("ipi.link.faults", MeasureFaults, unit: "{connection}",
            description: "Connections closed or refused, by reason");
        Meter.CreateObservableCounter("ipi.node.rejected_handshakes", MeasureRejectedHandshakes, unit: "{connection}",
            description: "Handshakes the other side ended with a goodbye that proved no key (another key, altered on the path, or no peer)");
        Meter.CreateObservableCounter("ipi.link.flush_sends", () => MeasureLinks(static c => c.FlushSends), unit: "{send}",
            description: "Sends a send batch's flush made on its own thread while the link's send loop was parked");
    }

    internal static void Register(NodeTransport node)
    {
        lock (Gate)
            Nodes.Add(node);
    }

    internal static void Unregister(NodeTransport node)
    {
        lock (Gate)
            Nodes.Remove(node);
    }

    private static void Observe(string name, string description, Func<LinkCounters, long> read)
        => Meter.CreateObservableCounter(name, () => MeasureLinks(read), unit: "{record}", description: description);

    private static List<Measurement<T>> MeasureLinks<T>(Func<LinkCounters, T> read)
        where T : struct
    {
        lock (Gate)
        {
            var measurements = new List<Measurement<T>>();
            foreach (var node in Nodes)
            {
                foreach (var link in node.Links)
                {
                    measurements.Add(new Measurement<T>(read(link.Counters),
                        new KeyValuePair<string, object?>("node", node.NodeId), new KeyValuePair<string, object?>("peer", link.PeerNode)));
                }
            }
            return measurements;
        }
    }

    private static List<Measurement<double>> MeasureStateTimes()
    {
        lock (Gate)
        {
            var measurements = new List<Measurement<double>>();
            foreach (var node in Nodes)
            {
                foreach (var link in node.Links)
                {
                    var times = link.Counters.Times;
                    foreach (var state in Enum.GetValues<LinkState>())
                    {
                        measurements.Add(new Measurement<double>(times.Of(state).TotalSeconds, new KeyValuePair<string, object?>("node", node.NodeId),
                            new KeyValuePair<string, object?>("peer", link.PeerNode), new KeyValuePair<string, object?>("state", state.ToString())));
                    }
                }
            }
            return measurements;
        }
    }

    private static List<Measurement<long>> MeasureRejectedHandshakes()
    {
        lock (Gate)
            return [.. Nodes.Select(static node => new Measurement<long>(node.RejectedHandshakes, new KeyValuePair<string, object?>("node", node.NodeId)))];
    }

    private static List<Measurement<long>> MeasureFaults()
    {
        lock (Gate)
        {
            var measurements = new List<Measurement<long>>();
            foreach (var node in Nodes)
            {
                foreach (var reason in Enum.GetValues<LinkFault>())
                {
                    long count = node.FaultCount(reason);
                    if (count != 0)
                    {
                        measurements.Add(new Measurement<long>(count,
                            new KeyValuePair<string, object?>("node", node.NodeId), new KeyValuePair<string, object?>("reason", reason.ToString())));
                    }
                }
            }
            return measurements;
        }
    }
}
