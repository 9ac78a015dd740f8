namespace IpiEngine.Delivery;

/// <summary>Notifies through an unmanaged function <c>void notify(intptr_t context, int vcpu)</c> (the C ABI's kick).</summary>
internal readonly unsafe struct FunctionPointerNotifier : IDeliveryNotifier
{
    private readonly delegate* unmanaged<nint, int, void> _function;
    private readonly nint _context;

    /// <summary>Creates a notifier; <paramref name="function"/> must stay valid while the engine runs.</summary>
    public FunctionPointerNotifier(delegate* unmanaged<nint, int, void> function, nint context)
    {
        if (function == null)
        {
            throw new ArgumentNullException(nameof(function));
        }

        _function = function;
        _context = context;
    }

    /// <inheritdoc/>
    public void Notify(int vcpu) => _function(_context, vcpu);
}
