using System.Runtime.CompilerServices;
using IpiEngine.Delivery;

namespace IpiEngine.Stages;

/// <summary>Fused mode's sink: resolved deliveries go straight into the batcher on the same thread.</summary>
internal readonly struct BatcherSink<TNotifier>(DeliveryBatcher<TNotifier> batcher) : IResolvedSink
    where TNotifier : struct, IDeliveryNotifier
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(in ExitRecord record, uint sourceVcpu, uint destinationVcpu, uint icrLow, uint icrDestination)
        => batcher.Add(record, sourceVcpu, destinationVcpu, icrLow, icrDestination);

    public bool GathersLocalBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => batcher.LocalOnly;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddLocalVectored(int destinationVcpu, uint icrLow) => batcher.AddLocalVectored(destinationVcpu, icrLow);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Counted(int deliveries) => batcher.CountResolved(deliveries);
}
