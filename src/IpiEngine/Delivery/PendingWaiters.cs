namespace IpiEngine.Delivery;

/// <summary>
/// The engine's own notification: one <see cref="VcpuWaiter"/> per vCPU that ever waited (made on its first wait), woken
/// on the delivery path before the embedder's notifier. A vCPU that never waits costs the deliverer one array read.
/// </summary>
internal sealed class PendingWaiters(DescriptorTable descriptors)
{
    private readonly VcpuWaiter?[] _waiters = new VcpuWaiter?[descriptors.VcpuCount];

    /// <summary>The vCPU's waiter, made on first use (thread-safe: one wins).</summary>
    public VcpuWaiter For(int vcpu)
    {
        if ((uint)vcpu >= (uint)_waiters.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"There are {_waiters.Length} vCPUs (0 to {_waiters.Length - 1}).");
        }

        VcpuWaiter? waiter = Volatile.Read(ref _waiters[vcpu]); // acquire: a published waiter is fully built
        if (waiter is not null)
        {
            return waiter;
        }

        var made = new VcpuWaiter(descriptors, vcpu);
        return Interlocked.CompareExchange(ref _waiters[vcpu], made, null) ?? made; // full fence: published before it arms
    }

    /// <summary>The deliverer, after setting the vCPU's outstanding-notification bit (a full fence): wakes its waiter.</summary>
    public void Wake(int vcpu) => Volatile.Read(ref _waiters[vcpu])?.Wake(); // after the fence: see VcpuWaiter's remarks

    /// <summary>A thread is blocked waiting for <paramref name="vcpu"/> (tests).</summary>
    public bool IsBlocked(int vcpu) => Volatile.Read(ref _waiters[vcpu])?.IsBlocked == true; // acquire: a published waiter is fully built

    /// <summary>The engine was disposed: every waiter throws <see cref="ObjectDisposedException"/>.</summary>
    public void AbortAll()
    {
        foreach (VcpuWaiter? waiter in _waiters)
        {
            waiter?.Abort();
        }
    }
}
