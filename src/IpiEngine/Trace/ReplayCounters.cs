using IpiEngine.Apic;

namespace IpiEngine.Trace;

/// <summary>What a replay processed: every record is counted once as latched, topology write, fired or rejected.</summary>
internal sealed class ReplayCounters
{
    private readonly Dictionary<string, long> _ipisByMode = new(StringComparer.Ordinal);
    private readonly Dictionary<RejectReason, long> _rejectedByReason = [];

    /// <summary>Exit records processed.</summary>
    public long Records { get; private set; }

    /// <summary>ICR high writes (latched destinations).</summary>
    public long Latched { get; private set; }

    /// <summary>Topology register writes.</summary>
    public long TopologyWrites { get; private set; }

    /// <summary>Firing writes that produced an IPI (including INIT de-asserts and IPIs that reached nobody).</summary>
    public long Fired { get; private set; }

    /// <summary>Records refused with a reason.</summary>
    public long Rejected { get; private set; }

    /// <summary>Destination vCPUs reached, summed over every IPI.</summary>
    public long Destinations { get; private set; }

    /// <summary>Fired IPIs by their <c>deliveries.csv</c> mode name.</summary>
    public IReadOnlyDictionary<string, long> IpisByMode => _ipisByMode;

    /// <summary>Rejected records by reason.</summary>
    public IReadOnlyDictionary<RejectReason, long> RejectedByReason => _rejectedByReason;

    /// <summary>Counts one processed record.</summary>
    public void Count(in ExitOutcome outcome, int destinations)
    {
        Records++;
        switch (outcome.Kind)
        {
            case ExitKind.Latched:
                Latched++;
                break;
            case ExitKind.TopologyWrite:
                TopologyWrites++;
                break;
            case ExitKind.Fired:
                Fired++;
                Destinations += destinations;
                string mode = DeliveryRow.ModeName(outcome);
                _ipisByMode[mode] = _ipisByMode.GetValueOrDefault(mode) + 1;
                break;
            default:
                Rejected++;
                _rejectedByReason[outcome.Reason] = _rejectedByReason.GetValueOrDefault(outcome.Reason) + 1;
                break;
        }
    }
}
