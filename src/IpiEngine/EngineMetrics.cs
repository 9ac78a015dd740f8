using System.Diagnostics.Metrics;

namespace IpiEngine;

/// <summary>
/// Publishes every running engine's counters through <c>System.Diagnostics.Metrics</c> observable counters on one
/// meter, <c>IpiEngine</c>, tagged with the engine's name (<c>engine</c>) and its instance number in the process
/// (<c>engine.instance</c>, from 1 in creation order), so that two engines of one name are two series, not one twice.
/// Read on collection only: nothing on the hot path.
/// </summary>
public static class EngineMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "IpiEngine";

    private static readonly Lock Gate = new();
    private static readonly List<(Engine Engine, int Instance)> Engines = [];
    private static int s_instances; // under Gate
    private static readonly Meter Meter = new(MeterName);

    static EngineMetrics()
    {
        Observe("ipi.posted", "Records posted", static c => c.Posted);
        Observe("ipi.resolved", "IPIs resolved", static c => c.IpisResolved);
        Observe("ipi.rejected", "Records rejected", static c => c.Rejected);
        Observe("ipi.destinations", "Destinations of resolved IPIs", static c => c.DestinationsResolved);
        Observe("ipi.delivered", "Destinations delivered", static c => c.Delivered);
        Observe("ipi.coalesced", "Destinations coalesced", static c => c.Coalesced);
        Observe("ipi.forwarded", "Destinations forwarded to other nodes", static c => c.Forwarded);
        Observe("ipi.served_by_host", "Local destinations the host's kernel served (LocalTargets.Kernel)", static c => c.ServedByHost);
        Observe("ipi.peer_unreachable", "Destinations on another node refused because the peer was unreachable", static c => c.PeerUnreachable);
        Observe("ipi.undelivered", "Destinations resolved but never delivered because the pipeline failed", static c => c.Undelivered);
        Observe("ipi.remote_delivered", "Deliveries from other nodes applied here", static c => c.RemoteDelivered);
        Observe("ipi.remote_coalesced", "Deliveries from other nodes coalesced here", static c => c.RemoteCoalesced);
        Observe("ipi.remote_rejected", "Deliveries from other nodes refused here", static c => c.RemoteRejected);
        Observe("ipi.notifications", "Notifications raised", static c => c.Notifications);
        Observe("ipi.notifier_faults", "Notifier calls that threw", static c => c.NotifierFaults);
        Observe("ipi.assisted_passes", "Passes a posting thread ran because it found the pipeline thread parked", static c => c.AssistedPasses, "{pass}");
        Observe("ipi.thin_pass_waits", "Thin passes after which the gathering thread let streaming records gather", static c => c.ThinPassWaits, "{pass}");
    }

    internal static void Register(Engine engine)
    {
        lock (Gate)
        {
            Engines.Add((engine, ++s_instances));
        }
    }

    internal static void Unregister(Engine engine)
    {
        lock (Gate)
        {
            Engines.RemoveAll(e => e.Engine == engine);
        }
    }

    private static void Observe(string name, string description, Func<EngineCounters, long> read, string unit = "{record}")
        => Meter.CreateObservableCounter(name, () => Measure(read), unit: unit, description: description);

    private static List<Measurement<long>> Measure(Func<EngineCounters, long> read)
    {
        lock (Gate)
        {
            var measurements = new List<Measurement<long>>(Engines.Count);
            foreach (var (engine, instance) in Engines)
            {
                measurements.Add(new Measurement<long>(read(engine.ReadCounters()),
                    new KeyValuePair<string, object?>("engine", engine.Options.Name), new KeyValuePair<string, object?>("engine.instance", instance)));
            }

            return measurements;
        }
    }
}
