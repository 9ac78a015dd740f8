using System.Text.Json.Serialization;

namespace IpiEngine.Perf.Calibration;

/// <summary>How far apart the machine's two cores were while something was measured.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CoreDistanceState>))]
public enum CoreDistanceState
{
    /// <summary>No usable reading (one core, or the probe could not finish in its time budget).</summary>
    Unknown = 0,

    /// <summary>A cache line crosses to the other core and back faster than the near threshold.</summary>
    Near,

    /// <summary>The round trip is at or above the near threshold.</summary>
    Far,

    /// <summary>The readings before and after a benchmark disagree: the state switched during it.</summary>
    Mixed,
}
