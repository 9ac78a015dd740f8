namespace IpiEngine.Cli.Run;

/// <summary>
/// Managed allocation and GC counts over a window: taken right before the vCPU threads start posting and right
/// after they stop, so it covers exactly the measured window (every thread, since the counts are process-wide).
/// </summary>
internal readonly record struct AllocationWindow(long AllocatedBytes, int Gen0, int Gen1, int Gen2)
{
    /// <summary>Reads the counters now. <c>GetTotalAllocatedBytes(true)</c> is precise (it flushes every thread's allocation context).</summary>
    public static AllocationWindow Now()
        => new(GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    /// <summary>Two windows' counts together (the slices of a <c>--baseline</c> run).</summary>
    public static AllocationWindow operator +(AllocationWindow a, AllocationWindow b)
        => new(a.AllocatedBytes + b.AllocatedBytes, a.Gen0 + b.Gen0, a.Gen1 + b.Gen1, a.Gen2 + b.Gen2);

    /// <summary>What happened between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static AllocationWindow Between(AllocationWindow before, AllocationWindow after)
        => new(after.AllocatedBytes - before.AllocatedBytes, after.Gen0 - before.Gen0, after.Gen1 - before.Gen1, after.Gen2 - before.Gen2);
}
