using System.Runtime.CompilerServices;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Fused mode's gather consumer: resolves each record of the run into the batcher, all on one thread.</summary>
internal readonly struct FusedConsumer<TNotifier>(ResolveStage resolve, DeliveryBatcher<TNotifier> batcher) : ISpanConsumer
    where TNotifier : struct, IDeliveryNotifier
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Consume(ReadOnlySpan<ExitRecord> records)
    {
        var sink = new BatcherSink<TNotifier>(batcher);
        resolve.ResolveRun(records, ref sink);
        return records.Length;
    }
}
