namespace IpiEngine.Stages;

/// <summary>
/// One pass of a gathering thread over the rung vCPU rings (a struct: the call inlines). Fused mode's pass gathers,
/// resolves and delivers; per-stage mode's gather thread copies into the exit-record ring.
/// </summary>
internal interface IGatherPass
{
    /// <summary>Runs one pass; returns whether it consumed any record.</summary>
    bool Run();
}
