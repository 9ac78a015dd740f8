namespace IpiEngine.Delivery;

/// <summary>Notifies through a managed callback (a C# simulator's kick).</summary>
/// <param name="callback">Called with the destination vCPU.</param>
internal readonly struct CallbackNotifier(Action<int> callback) : IDeliveryNotifier
{
    /// <inheritdoc/>
    public void Notify(int vcpu) => callback(vcpu);
}
