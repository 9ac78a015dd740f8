namespace IpiEngine.Stages;

/// <summary>What the gather stage does with each readable run of one vCPU's ring (a struct: the call inlines).</summary>
internal interface ISpanConsumer
{
    /// <summary>
    /// Consumes the records of <paramref name="records"/> in order and returns how many it consumed: all of them, or
    /// fewer only when its stage was aborted (a later stage failed). The consumed ones are returned to the producer
    /// afterwards; the others stay in the ring, counted as never resolved.
    /// </summary>
    int Consume(ReadOnlySpan<ExitRecord> records);
}
