namespace IpiEngine.Delivery;

/// <summary>Notifies nobody: the vCPUs poll their descriptors.</summary>
internal readonly struct NoNotifier : IDeliveryNotifier
{
    /// <inheritdoc/>
    public void Notify(int vcpu)
    {
    }
}
