namespace IpiEngine.Delivery;

/// <summary>
/// Told when a vCPU has new pending interrupts and no notification outstanding (at most once per destination per
/// batch). Implemented by structs: the engine is generic over the notifier type, so the call inlines. Runs on the
/// deliver thread: keep it short (kick the vCPU), and never post to the engine from it.
/// </summary>
public interface IDeliveryNotifier
{
    /// <summary>The vCPU's descriptor has something new; take it with <see cref="DescriptorTable.Take"/>.</summary>
    void Notify(int vcpu);
}
