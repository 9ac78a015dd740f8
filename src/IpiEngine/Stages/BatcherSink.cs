using System.Runtime.CompilerServices;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Fused mode's sink: resolved deliveries go straight into the batcher on the same thread.</summary>
internal readonly struct BatcherSink<TNotifier>(DeliveryBatcher<TNotifier> batcher) : IResolvedSink
    where TNotifier : struct, IDeliveryNotifier
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(ulong tag, long postTimestamp, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
        => batcher.Add(tag, postTimestamp, sourceVcpu, destinationVcpu, icrLow, icrDestination);
}
