namespace IpiEngine.Native;

/// <summary>
/// The benchmark aid behind <c>ipi_bench_post_managed</c>: posts records the way a C# embedder would, calling
/// <see cref="Engine"/> directly, so the C driver can time C posting and C# posting on one engine in one process.
/// </summary>
internal static class ManagedPostingLoop
{
    public static int Run(NativeEngine engine, ReadOnlySpan<NativeExit> records, uint repeat, uint batchSize)
    {
        foreach (ref readonly NativeExit record in records)
        {
            if (record.SourceVcpu >= (uint)engine.VcpuCount)
                return LastError.VcpuRange(record.SourceVcpu, engine.VcpuCount);
        }
        Engine target = engine.Engine;
        if (batchSize == 0)
        {
            for (uint r = 0; r < repeat; r++)
            {
                foreach (ref readonly NativeExit x in records)
                    target.Post((int)x.SourceVcpu, x.Register, x.Value, x.DestinationId, x.Tag);
            }
            return Status.Ok;
        }

        // A C# embedder holds ring records already; build them once, outside the loop.
        var converted = new ExitRecord[records.Length];
        for (int i = 0; i < records.Length; i++)
        {
            ref readonly NativeExit x = ref records[i];
            converted[i] = ExitRecord.Create((ushort)x.SourceVcpu, x.Register, x.Value, x.DestinationId, x.Tag);
        }
        int chunk = (int)Math.Min(batchSize, int.MaxValue);
        for (uint r = 0; r < repeat; r++)
            PostRuns(target, converted, chunk);
        return Status.Ok;
    }

    /// <summary>Posts each run of one source vCPU's records in batches of at most <paramref name="chunk"/>.</summary>
    private static void PostRuns(Engine target, ReadOnlySpan<ExitRecord> records, int chunk)
    {
        int start = 0;
        while (start < records.Length)
        {
            ushort source = records[start].SourceVcpu;
            int count = 1;
            while (count < chunk && start + count < records.Length && records[start + count].SourceVcpu == source)
                count++;
            target.PostBatch(source, records.Slice(start, count));
            start += count;
        }
    }
}
