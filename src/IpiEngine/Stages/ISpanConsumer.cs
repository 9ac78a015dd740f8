namespace IpiEngine.Stages;

/// <summary>What the gather stage does with each readable run of one vCPU's ring (a struct: the call inlines).</summary>
internal interface ISpanConsumer
{
    /// <summary>Consumes every record of <paramref name="records"/> (they are returned to the producer afterwards).</summary>
    void Consume(ReadOnlySpan<ExitRecord> records);
}
