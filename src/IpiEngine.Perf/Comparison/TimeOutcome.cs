using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Comparison;

/// <summary>What the time test concluded for one benchmark.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TimeOutcome>))]
public enum TimeOutcome
{
    /// <summary>Equivalent within the threshold or the noise floor.</summary>
    Same,

    /// <summary>The diff is slower beyond both the threshold and the noise floor.</summary>
    Slower,

    /// <summary>The diff is faster beyond both the threshold and the noise floor.</summary>
    Faster,

    /// <summary>Too few samples for the test to conclude.</summary>
    Unknown,

    /// <summary>Launches were compared, but they show neither a change beyond the threshold nor equivalence within it: more rounds are needed.</summary>
    NotEnoughEvidence,

    /// <summary>Cross-thread, and the two sides share no calibration state.</summary>
    NotComparable,

    /// <summary>Failed (no samples) on at least one side.</summary>
    Failed,
}
