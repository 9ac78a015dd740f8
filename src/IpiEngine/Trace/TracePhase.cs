using IpiEngine.Apic;

namespace IpiEngine.Trace;

/// <summary>
/// A stretch of a trace between topology rows: a run of records that are not topology writes, then the run of
/// topology rows after it (possibly none, at the end). A concurrent replay posts each vCPU's records of a phase from its
/// own thread, then stops every thread at the topology rows, applies them, and goes on: the ordering the trace's
/// reference model saw.
/// </summary>
internal sealed class TracePhase
{
    /// <summary>The records before the topology rows, in trace order.</summary>
    public List<ExitRecord> Records { get; } = [];

    /// <summary>The topology rows that end the phase, in trace order (empty for the last phase of a trace that ends otherwise).</summary>
    public List<ExitRecord> TopologyWrites { get; } = [];

    /// <summary>Topology rows of the whole trace before this phase's (the ordinal of its first row is this plus one).</summary>
    public int TopologyWritesBefore { get; private init; }

    /// <summary>Cuts a trace into phases.</summary>
    public static List<TracePhase> Split(IReadOnlyList<ExitRecord> exits)
    {
        ArgumentNullException.ThrowIfNull(exits);
        var phases = new List<TracePhase>();
        var current = new TracePhase();
        int writes = 0;
        foreach (ExitRecord record in exits)
        {
            if (ApicTopology.IsTopologyRegister(record.Register))
            {
                current.TopologyWrites.Add(record);
                writes++;
                continue;
            }

            if (current.TopologyWrites.Count > 0)
            {
                phases.Add(current);
                current = new TracePhase { TopologyWritesBefore = writes };
            }

            current.Records.Add(record);
        }

        phases.Add(current);
        return phases;
    }
}
